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

/** Fills in defaults and refuses limits that are not positive integers. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  return Object.freeze(limits);
}
