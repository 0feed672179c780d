import type { ClockAdjustReplyBody, ClockAdjustRequestBody, ClockPollReplyBody, ClockPollRequestBody } from './berkeleyMessages.js';
import { requireClockInteger } from './limits.js';
import type { SynchronizedTime } from './SynchronizedTime.js';

export interface BerkeleyParticipantOptions {
  /** Adjustments larger than this (either way) are refused (`applied: false`). Default: no limit. */
  readonly maxAdjustMs?: number;
  /**
   * The synchronised clock never strays further than this from its base clock: an adjustment that
   * would take its target offset beyond ±maxOffsetMs is refused (`applied: false`), so a coordinator
   * announcing absurd corrections, however many rounds it runs, moves it at most this far. Default: no limit.
   */
  readonly maxOffsetMs?: number;
  /**
   * A poll whose round is more than this many above the corrected clock in ms is refused with a
   * BerkeleyRoundError: rounds start at a coordinator's clock in ms and count up by one per round,
   * so only a forged round lies a day ahead, and taking it would push every later round towards
   * 2^53. Default 86 400 000 (one day).
   */
  readonly maxRoundAheadMs?: number;
}

/** A `clock.poll.request` whose round lies implausibly far ahead (BerkeleyParticipantOptions.maxRoundAheadMs). The participant is unchanged. */
export class BerkeleyRoundError extends RangeError {
  override name = 'BerkeleyRoundError';
  readonly code = 'BAD_REQUEST';
  readonly data: { readonly reason: 'round_ahead'; readonly round: number; readonly max_round: number };

  constructor(round: number, maxRound: number) {
    super(`round ${round} lies more than a day ahead of this clock (at most ${maxRound} accepted)`);
    this.data = { reason: 'round_ahead', round, max_round: maxRound };
  }
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
  readonly #maxOffsetMs: number;
  readonly #maxRoundAheadMs: number;
  #polledRound: number | undefined;
  /** The target offset of `time` when the round was polled: what adjust_ms is relative to. */
  #offsetAtPoll = 0;

  constructor(time: SynchronizedTime, options: BerkeleyParticipantOptions = {}) {
    this.time = time;
    this.#maxAdjustMs = options.maxAdjustMs ?? Number.POSITIVE_INFINITY;
    this.#maxOffsetMs = options.maxOffsetMs ?? Number.POSITIVE_INFINITY;
    this.#maxRoundAheadMs = options.maxRoundAheadMs ?? 86_400_000;
    for (const [name, value] of [['maxAdjustMs', this.#maxAdjustMs], ['maxOffsetMs', this.#maxOffsetMs], ['maxRoundAheadMs', this.#maxRoundAheadMs]] as const) {
      if (!(value >= 0)) throw new RangeError(`${name} must be ≥ 0, got ${value}`);
    }
  }

  /** Answers a `clock.poll.request`. A repeated poll of the same round keeps the first one's reference. */
  onPoll(request: ClockPollRequestBody): ClockPollReplyBody {
    const round = requireClockInteger(request.round, 'round');
    const maxRound = this.time.correctedNow() + this.#maxRoundAheadMs;
    if (round > maxRound) throw new BerkeleyRoundError(round, maxRound);
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
    const target = this.#offsetAtPoll + request.adjust_ms;
    if (!(Math.abs(target) <= this.#maxOffsetMs)) return { round, applied: false };
    this.time.adjust(target - this.#targetOffset());
    return { round, applied: true };
  }

  /** The integer sum of every adjustment accepted (offset + pending, rounded off float error). */
  #targetOffset(): number {
    return Math.round(this.time.offset + this.time.pending);
  }
}
