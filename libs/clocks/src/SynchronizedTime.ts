import type { TimeSource } from './TimeSource.js';

export interface SynchronizedTimeOptions {
  /**
   * The largest share of elapsed base time by which an adjustment may speed the clock up or slow it
   * down, in (0, 1). Default 0.5: while slewing, the clock runs between half and one and a half times
   * as fast as its base, so a −60 s adjustment takes 120 s of base time to apply.
   */
  readonly maxSlewRate?: number;
}

/**
 * A TimeSource that applies clock adjustments (Berkeley's) by slewing rather than stepping.
 *
 * `adjust(delta)` moves the *target* offset at once; `now()` then converges on `base + target` at no
 * more than `maxSlewRate` ms per elapsed base ms. Because `maxSlewRate < 1`, `now()` never goes
 * backwards, not even for negative adjustments, and keeps moving forward while slewing.
 *
 * If the base clock itself steps backwards by d (an operator or NTP stepping the OS clock), `now()`
 * stays continuous: the step is absorbed into the applied offset and slewed out like an adjustment
 * of −d. A forward step of the base shows up in `now()` as it is.
 */
export class SynchronizedTime implements TimeSource {
  readonly #base: TimeSource;
  readonly #maxSlewRate: number;
  #lastBaseMs: number;
  /** Sum of every adjustment accepted: where the offset is heading. */
  #targetOffset = 0;
  /** The part of the offset already applied; fractional while slewing. */
  #appliedOffset = 0;
  #lastReportedMs = Number.NEGATIVE_INFINITY;

  constructor(base: TimeSource, options: SynchronizedTimeOptions = {}) {
    const maxSlewRate = options.maxSlewRate ?? 0.5;
    if (!(maxSlewRate > 0 && maxSlewRate < 1)) throw new RangeError(`maxSlewRate must be in (0, 1), got ${maxSlewRate}`);
    this.#base = base;
    this.#maxSlewRate = maxSlewRate;
    this.#lastBaseMs = base.now();
  }

  /** The slewed time: integer ms, never less than any value returned before. */
  now(): number {
    this.#slew();
    // The max() only guards against floating-point rounding; the arithmetic is monotonic already.
    const reported = Math.max(Math.floor(this.#lastBaseMs + this.#appliedOffset), this.#lastReportedMs);
    this.#lastReportedMs = reported;
    return reported;
  }

  /**
   * The time this clock is converging on: base time plus every accepted adjustment, including the
   * part not yet slewed. It steps when `adjust()` is called, so it is not a monotonic clock; it is
   * what Berkeley synchronisation measures and corrects.
   */
  correctedNow(): number {
    this.#slew();
    return Math.floor(this.#lastBaseMs + this.#targetOffset);
  }

  /** Adds `deltaMs` (an integer, negative to slow down) to the target offset. */
  adjust(deltaMs: number): void {
    if (!Number.isSafeInteger(deltaMs)) throw new RangeError(`an adjustment must be an integer number of milliseconds, got ${deltaMs}`);
    this.#slew();
    this.#targetOffset += deltaMs;
  }

  /** The offset from the base clock applied so far, in ms (fractional while slewing). */
  get offset(): number {
    this.#slew();
    return this.#appliedOffset;
  }

  /** The part of the accepted adjustments not yet applied, in ms. */
  get pending(): number {
    this.#slew();
    return this.#targetOffset - this.#appliedOffset;
  }

  /** Applies as much of the pending adjustment as the base time elapsed since the last reading allows. */
  #slew(): void {
    const baseNow = this.#base.now();
    const elapsed = baseNow - this.#lastBaseMs;
    this.#lastBaseMs = baseNow;
    if (elapsed < 0) {
      // The base stepped back: keep our time where it was and slew the difference out.
      this.#appliedOffset -= elapsed;
      return;
    }
    const pending = this.#targetOffset - this.#appliedOffset;
    const allowed = elapsed * this.#maxSlewRate;
    if (Math.abs(pending) <= allowed) this.#appliedOffset = this.#targetOffset;
    else this.#appliedOffset += Math.sign(pending) * allowed;
  }
}
