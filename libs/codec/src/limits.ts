/** Hard limits a decoder applies before it allocates anything. See protocol/ENCODING.md §2. */
export interface Limits {
  /** Largest encoded message, in bytes. Defaults to 1 MiB. */
  readonly maxBytes: number;
  /** Largest string, in UTF-8 bytes. Defaults to 65,536. */
  readonly maxStringBytes: number;
  /** Largest binary value, in bytes. Defaults to 1 MiB. */
  readonly maxBinBytes: number;
  /** Most items in one array. Defaults to 10,000. */
  readonly maxArrayLength: number;
  /** Most entries in one map. Defaults to 1,000. */
  readonly maxMapSize: number;
  /** Deepest nesting of arrays and maps. Defaults to 32. */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxBytes: 1024 * 1024,
  maxStringBytes: 65_536,
  maxBinBytes: 1024 * 1024,
  maxArrayLength: 10_000,
  maxMapSize: 1_000,
  maxDepth: 32,
});

/**
 * The deepest nesting any limit may allow. Encoding and decoding recurse once per level, so a
 * larger maxDepth would let a deep value overflow the stack instead of failing with a typed error.
 */
export const MAX_NESTING = 1_000;

/** Fills in defaults and refuses limits that are not positive integers, or a maxDepth above MAX_NESTING. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.maxDepth > MAX_NESTING) throw new RangeError(`limit maxDepth must be at most ${MAX_NESTING}, got ${limits.maxDepth}`);
  return Object.freeze(limits);
}
