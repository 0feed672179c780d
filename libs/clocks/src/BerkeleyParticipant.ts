import type { ClockAdjustReplyBody, ClockAdjustRequestBody, ClockPollReplyBody, ClockPollRequestBody } from './berkeleyMessages.js';
import { requireClockInteger } from './limits.js';
import type { SynchronizedTime } from './SynchronizedTime.js';

export interface BerkeleyParticipantOptions {
  /** Adjustments larger than this (either way) are refused (`applied: false`). Default: no limit. */
  readonly maxAdjustMs?: number;
}

/**
 * A participant's side of the Berkeley algorithm: answers polls with its clock and applies
 * adjustments to a SynchronizedTime, which slews them in (the clock never steps back).
 *
 * - It reports `correctedNow()`: its clock including adjustments accepted but not yet slewed, so a
 *   coordinator that polls again while an adjustment is still being applied does not count it twice.
 * - An adjustment is relative to the clock as it was reported in that round's poll, and is applied
 *   only if that round is the one this participant was last polled in (otherwise `applied: false`).
 * - Applying is idempotent: a retried `clock.adjust.request` leaves the clock where the first one put
 *   it. For this, round numbers must not repeat, also across coordinators: a new coordinator should
 *   start above every round used before (for example `firstRound` = its clock in ms at takeover).
 */
export class BerkeleyParticipant {
  readonly time: SynchronizedTime;
  readonly #maxAdjustMs: number;
  #polledRound: number | undefined;
  /** The target offset of `time` when the round was polled: what adjust_ms is relative to. */
  #offsetAtPoll = 0;

  constructor(time: SynchronizedTime, options: BerkeleyParticipantOptions = {}) {
    this.time = time;
    this.#maxAdjustMs = options.maxAdjustMs ?? Number.POSITIVE_INFINITY;
    if (!(this.#maxAdjustMs >= 0)) throw new RangeError(`maxAdjustMs must be ≥ 0, got ${this.#maxAdjustMs}`);
  }

  /** Answers a `clock.poll.request`. A repeated poll of the same round keeps the first one's reference. */
  onPoll(request: ClockPollRequestBody): ClockPollReplyBody {
    const round = requireClockInteger(request.round, 'round');
    if (round !== this.#polledRound) {
      this.#polledRound = round;
      this.#offsetAtPoll = this.#targetOffset();
    }
    return { round, time: this.time.correctedNow() };
  }

  /** Answers a `clock.adjust.request`, applying it if it belongs to the round last polled. */
  onAdjust(request: ClockAdjustRequestBody): ClockAdjustReplyBody {
    const round = requireClockInteger(request.round, 'round');
    if (!Number.isSafeInteger(request.adjust_ms)) throw new RangeError(`adjust_ms must be an integer, got ${request.adjust_ms}`);
    if (round !== this.#polledRound || Math.abs(request.adjust_ms) > this.#maxAdjustMs) return { round, applied: false };
    this.time.adjust(this.#offsetAtPoll + request.adjust_ms - this.#targetOffset());
    return { round, applied: true };
  }

  /** The integer sum of every adjustment accepted (offset + pending, rounded off float error). */
  #targetOffset(): number {
    return Math.round(this.time.offset + this.time.pending);
  }
}
