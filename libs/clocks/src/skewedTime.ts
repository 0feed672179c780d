import type { TimeSource } from './TimeSource.js';

export interface SkewedTimeOptions {
  /** The reference ("true") time, typically a ManualTime that the test advances. */
  readonly base: TimeSource;
  /** How far this clock is ahead of `base` when created (negative: behind). Default 0. */
  readonly offsetMs?: number;
  /** How fast it gains on `base`, in parts per million (negative: loses). Default 0. Quartz: about ±100. */
  readonly driftPpm?: number;
}

/**
 * A clock that is `offsetMs` off `base` when created and then gains `driftPpm` µs per ms of base time:
 * `floor(base + offsetMs + (base − base₀) · driftPpm / 10⁶)`. It never goes backwards while `base` doesn't.
 */
export function skewedTime({ base, offsetMs = 0, driftPpm = 0 }: SkewedTimeOptions): TimeSource {
  if (!Number.isFinite(offsetMs)) throw new RangeError(`offsetMs must be finite, got ${offsetMs}`);
  // A drift of −10⁶ ppm or less would stop the clock or run it backwards.
  if (!Number.isFinite(driftPpm) || Math.abs(driftPpm) >= 1_000_000) {
    throw new RangeError(`driftPpm must be in (−1000000, 1000000), got ${driftPpm}`);
  }
  const start = base.now();
  const rate = driftPpm / 1_000_000;
  return {
    now: () => {
      const baseNow = base.now();
      return Math.floor(baseNow + offsetMs + (baseNow - start) * rate);
    },
  };
}
