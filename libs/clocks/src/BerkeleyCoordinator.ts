import type { ClockAdjustRequestBody, ClockPollReplyBody, ClockPollRequestBody } from './berkeleyMessages.js';
import { faultTolerantAverage, type OffsetSample } from './faultTolerantAverage.js';
import { MAX_CLOCK_VALUE, requireClockInteger } from './limits.js';

export interface BerkeleyCoordinatorOptions {
  /** The coordinator's own id: it takes part in the average with offset 0. */
  readonly self: string;
  /** Clocks further than this from the median offset are outliers, left out of the average. Default 10 000. */
  readonly maxDeviationMs?: number;
  /** Replies with a longer round trip are too imprecise to count in the average. Default 500. */
  readonly maxRttMs?: number;
  /** A reply received more than this long after the round started is late and ignored. Default 2 000. */
  readonly roundTimeoutMs?: number;
  /** The number of the first round; later rounds count up from it. Default 1. */
  readonly firstRound?: number;
}

/** A round just started: send each `request` to its participant (a `clock.poll.request` body). */
export interface BerkeleyRoundStart {
  readonly round: number;
  /** Replies received (coordinator's clock) after this are late; finish() the round by then. */
  readonly deadline: number;
  readonly polls: ReadonlyArray<{ readonly participant: string; readonly request: ClockPollRequestBody }>;
}

/** When the coordinator sent a poll and received its reply, both read from the coordinator's corrected clock. */
export interface PollTiming {
  readonly sentAt: number;
  readonly receivedAt: number;
}

/** What onReply() did with a reply. Only `accepted` replies count. */
export type ReplyVerdict =
  | 'accepted'
  /** Not for the round in progress (an earlier round, or no round in progress). */
  | 'stale'
  /** From a participant not polled in this round. */
  | 'unknown'
  /** This participant already replied in this round. */
  | 'duplicate'
  /** Received after the round's deadline. */
  | 'late'
  /** Times that are not integer ms, or received before sent (the coordinator's clock changed under the round). */
  | 'invalid';

/**
 * How a clock took part in a round:
 * `included` — counted in the average; `outlier` — offset too far from the median; `slow` — round
 * trip above `maxRttMs`; `no-reply` — no usable reply by the deadline.
 */
export type ClockStatus = 'included' | 'outlier' | 'slow' | 'no-reply';

export interface ClockMeasurement {
  readonly participant: string;
  readonly status: ClockStatus;
  /** Estimated offset of its clock from the coordinator's: remote + rtt/2 − local (absent for no-reply). */
  readonly offsetMs?: number;
  readonly rttMs?: number;
  /** The adjustment it is sent (absent for no-reply). */
  readonly adjustMs?: number;
}

export interface BerkeleyRoundResult {
  readonly round: number;
  /** The median of the offsets (coordinator 0, slow clocks left out). */
  readonly medianOffsetMs: number;
  /** The fault-tolerant average every clock is moved to, as an offset from the coordinator's clock. */
  readonly averageOffsetMs: number;
  /** Every clock of the round, the coordinator first. */
  readonly clocks: readonly ClockMeasurement[];
  /**
   * The `clock.adjust.request` bodies to send, one per clock that replied, the coordinator's own
   * first (`participant === self`: apply it locally through the coordinator's BerkeleyParticipant).
   */
  readonly adjustments: ReadonlyArray<{ readonly participant: string; readonly request: ClockAdjustRequestBody }>;
}

interface Round {
  readonly round: number;
  readonly deadline: number;
  readonly participants: readonly string[];
  readonly replies: Map<string, { offsetMs: number; rttMs: number }>;
}

/**
 * The coordinator's side of the Berkeley algorithm (Gusella & Zatti, 1989), as a state machine with
 * no I/O and no clock of its own: the caller moves the messages and passes in the times it read from
 * the coordinator's `SynchronizedTime.correctedNow()`.
 *
 * 1. `startRound(participants, now)` → poll requests for a new round number.
 * 2. `onReply(participant, reply, {sentAt, receivedAt})` for each poll reply; the offset estimate is
 *    `time + rtt/2 − receivedAt`, exact to within ±rtt/2 (the unknown asymmetry of the two legs).
 * 3. `finish()` once every participant replied or the deadline passed. Replies with a round trip above
 *    `maxRttMs` are set aside (`slow`); of the rest and the coordinator (offset 0), those further than
 *    `maxDeviationMs` from the median are `outlier`s; the average of the remaining offsets is the
 *    target. Every clock that replied is sent `average − offset`: outliers too, so a wild clock is
 *    pulled in rather than left behind (a participant may refuse an adjustment beyond its own limit);
 *    slow clocks only by the part that their ±rtt/2 uncertainty cannot reverse, so their adjustment
 *    never overshoots. Participants that did not reply get nothing.
 *
 * Starting a round abandons the round in progress; its replies become stale.
 */
export class BerkeleyCoordinator {
  readonly #self: string;
  readonly #maxDeviationMs: number;
  readonly #maxRttMs: number;
  readonly #roundTimeoutMs: number;
  #nextRound: number;
  #current: Round | undefined;

  constructor(options: BerkeleyCoordinatorOptions) {
    this.#self = options.self;
    this.#maxDeviationMs = nonNegative(options.maxDeviationMs ?? 10_000, 'maxDeviationMs');
    this.#maxRttMs = nonNegative(options.maxRttMs ?? 500, 'maxRttMs');
    this.#roundTimeoutMs = nonNegative(options.roundTimeoutMs ?? 2_000, 'roundTimeoutMs');
    this.#nextRound = requireClockInteger(options.firstRound ?? 1, 'firstRound');
  }

  /** The round in progress, if any. */
  get round(): number | undefined {
    return this.#current?.round;
  }

  /** Participants of the round in progress that have not replied yet. */
  get awaiting(): readonly string[] {
    const current = this.#current;
    return current === undefined ? [] : current.participants.filter((participant) => !current.replies.has(participant));
  }

  /** Starts a new round at `now` (coordinator's clock) with these participants (the coordinator excluded). */
  startRound(participants: Iterable<string>, now: number): BerkeleyRoundStart {
    const unique = [...new Set(participants)];
    if (unique.includes(this.#self)) throw new RangeError(`the coordinator ${this.#self} takes part implicitly; do not list it`);
    if (this.#nextRound > MAX_CLOCK_VALUE) throw new RangeError('round numbers are exhausted');
    const round = this.#nextRound++;
    const deadline = now + this.#roundTimeoutMs;
    this.#current = { round, deadline, participants: unique, replies: new Map() };
    return { round, deadline, polls: unique.map((participant) => ({ participant, request: { round } })) };
  }

  /** Records a poll reply; see ReplyVerdict for what is ignored. */
  onReply(participant: string, reply: ClockPollReplyBody, timing: PollTiming): ReplyVerdict {
    const current = this.#current;
    if (current === undefined || reply.round !== current.round) return 'stale';
    if (!current.participants.includes(participant)) return 'unknown';
    if (current.replies.has(participant)) return 'duplicate';
    if (timing.receivedAt > current.deadline) return 'late';
    if (![reply.time, timing.sentAt, timing.receivedAt].every(Number.isSafeInteger) || timing.receivedAt < timing.sentAt) return 'invalid';
    const rttMs = timing.receivedAt - timing.sentAt;
    current.replies.set(participant, { offsetMs: reply.time + rttMs / 2 - timing.receivedAt, rttMs });
    return 'accepted';
  }

  /** Ends the round in progress and computes the adjustments. */
  finish(): BerkeleyRoundResult {
    const current = this.#current;
    if (current === undefined) throw new Error('no Berkeley round in progress');
    this.#current = undefined;

    // The coordinator first, offset 0; then every reply precise enough to vote.
    const voters: Array<{ participant: string; offsetMs: number; rttMs: number }> = [{ participant: this.#self, offsetMs: 0, rttMs: 0 }];
    for (const [participant, reply] of current.replies) if (reply.rttMs <= this.#maxRttMs) voters.push({ participant, ...reply });
    const samples: OffsetSample[] = voters.map((voter) => ({ offsetMs: voter.offsetMs, isReference: voter.participant === this.#self }));
    const { medianMs, averageMs, included } = faultTolerantAverage(samples, this.#maxDeviationMs);
    const statusOf = new Map(voters.map((voter, index) => [voter.participant, included[index] ? 'included' : 'outlier'] as const));

    const clocks: ClockMeasurement[] = [];
    const adjustments: Array<{ participant: string; request: ClockAdjustRequestBody }> = [];
    for (const participant of [this.#self, ...current.participants]) {
      const reply = participant === this.#self ? { offsetMs: 0, rttMs: 0 } : current.replies.get(participant);
      if (reply === undefined) {
        clocks.push({ participant, status: 'no-reply' });
        continue;
      }
      const status = statusOf.get(participant) ?? 'slow';
      const wanted = averageMs - reply.offsetMs;
      const adjustMs = status === 'slow' ? shrinkTowardZero(wanted, reply.rttMs / 2) : Math.round(wanted);
      clocks.push({ participant, status, offsetMs: reply.offsetMs, rttMs: reply.rttMs, adjustMs });
      adjustments.push({ participant, request: { round: current.round, adjust_ms: adjustMs } });
    }
    return { round: current.round, medianOffsetMs: medianMs, averageOffsetMs: averageMs, clocks, adjustments };
  }
}

/** The value of [x − u, x + u] nearest zero, as an integer no further from zero: a move that cannot overshoot. */
function shrinkTowardZero(x: number, uncertainty: number): number {
  const magnitude = Math.trunc(Math.max(0, Math.abs(x) - uncertainty));
  return magnitude === 0 ? 0 : Math.sign(x) * magnitude;
}

function nonNegative(value: number, what: string): number {
  if (!(value >= 0)) throw new RangeError(`${what} must be ≥ 0, got ${value}`);
  return value;
}
