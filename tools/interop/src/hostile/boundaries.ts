import fc from 'fast-check';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Where integer handling breaks: the ends of the safe range, sign changes, and the edges of every
 * MessagePack integer format (fixint, 8, 16, 32 bits) and of 32-bit arithmetic.
 */
const EDGES = [0, 1, -1, 2, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256, 32_767, 32_768, -32_768, -32_769, 65_535, 65_536];
const WIDE_EDGES = [2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32 - 1, 2 ** 32, 2 ** 52, MAX_SAFE - 1, MAX_SAFE, -MAX_SAFE, -MAX_SAFE + 1];

/** Integers from min to max (the safe range by default): the edges above, each end and its neighbour, and anything between. */
export function boundaryInteger(min = -MAX_SAFE, max = MAX_SAFE): fc.Arbitrary<number> {
  const edges = [...new Set([min, min + 1, max - 1, max, ...EDGES, ...WIDE_EDGES])].filter((value) => value >= min && value <= max);
  return fc.oneof(
    { arbitrary: fc.constantFrom(...edges), weight: 3 },
    { arbitrary: fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number), weight: 2 },
    // Small values near the low end: counts, limits and sequence numbers that exist.
    { arbitrary: fc.integer({ min, max: Math.min(max, min + 1_000) }), weight: 1 },
  );
}
