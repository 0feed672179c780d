/** The largest clock value any Correio message may carry (protocol/ENCODING.md §1: 2^53 − 1). */
export const MAX_CLOCK_VALUE = Number.MAX_SAFE_INTEGER;

/** The largest logical part of an HLC value (`schemas/v1/defs.json#/$defs/hlc`: a uint32). */
export const MAX_HLC_LOGICAL = 0xffff_ffff;

/**
 * The largest logical part a received HLC value may carry (protocol/ENCODING.md §4.1): half the
 * uint32 range. An honest logical part stays below N·(ε+2), far under it; one above it would leave
 * this clock too few values before 2^32 − 1, so it is refused like a wall time too far ahead.
 */
export const MAX_RECEIVED_HLC_LOGICAL = 2 ** 31 - 1;

/** True for an integer in `[0, max]`. */
export function isClockInteger(value: unknown, max: number = MAX_CLOCK_VALUE): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;
}

/** Throws a RangeError naming `what` unless `value` is an integer in `[0, max]`. */
export function requireClockInteger(value: unknown, what: string, max: number = MAX_CLOCK_VALUE): number {
  if (!isClockInteger(value, max)) throw new RangeError(`${what} must be an integer in [0, ${max}], got ${String(value)}`);
  return value;
}
