import {
  BerkeleyCoordinator,
  BerkeleyParticipant,
  BerkeleyRoundError,
  type BerkeleyRoundResult,
  type ClockAdjustReplyBody,
  type ClockAdjustRequestBody,
  type ClockMeasurement,
  type ClockPollReplyBody,
  type ClockPollRequestBody,
  type SynchronizedTime,
} from '@correio/clocks';
import { BadRequestError, CorreioError } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import type { Logger } from '@correio/observability';

/** What clock synchronisation needs from cluster membership (a ServerNode provides it). */
export interface SyncMembership {
  /** True only while this server is the elected coordinator and may act as one. */
  readonly isCoordinator: boolean;
  /** The servers counted alive, this one included. */
  readonly liveServers: readonly { readonly server: string }[];
  /** A request to another server's `srv.<id>`. */
  request<T extends MessageType>(server: string, type: T, body: BodyOf<T>, options?: { timeout?: number; retries?: number; signal?: AbortSignal }): Promise<AnyEnvelope>;
}

export interface ClockSyncOptions {
  /** A Berkeley round every this many ms while coordinating; 0: no periodic rounds. Default 10 000. */
  readonly intervalMs?: number;
  /** Also a round after every this many requests the coordinator serves; 0: off. Default 1000. */
  readonly everyMessages?: number;
  /** Clocks further than this from the median are outliers, left out of the average. Default 10 000. */
  readonly maxDeviationMs?: number;
  /** Replies with a longer round trip do not vote, and get only the part of their adjustment their ±rtt/2 cannot reverse. Default 100. */
  readonly maxRttMs?: number;
  /** Replies later than this after the round started are ignored. Default 2000. */
  readonly roundTimeoutMs?: number;
  /**
   * As a participant, this server's synchronised clock stays within this many ms of its own system
   * clock: adjustments that would take it further are refused, so a coordinator (or anyone posing as
   * one) announcing absurd corrections moves it at most this far. Default 3 600 000 (one hour).
   */
  readonly maxOffsetMs?: number;
}

/** Why a round started. */
export type RoundReason = 'interval' | 'messages' | 'takeover';

/** A clock of a finished round, with what became of its adjustment. */
export interface RoundClock extends ClockMeasurement {
  /** Whether the participant applied its adjustment; absent when it got none or did not answer. */
  readonly applied?: boolean;
}

/** A round this server coordinated. */
export interface RoundReport {
  readonly round: number;
  readonly reason: RoundReason;
  /** This server's synchronised clock when the round started. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** `completed`: adjustments sent; `abandoned`: this server stopped coordinating during the round. */
  readonly outcome: 'completed' | 'abandoned';
  readonly medianOffsetMs?: number;
  readonly averageOffsetMs?: number;
  readonly clocks: readonly RoundClock[];
}

/** An adjustment this server received (from the coordinator, or itself as coordinator). */
export interface AdjustmentReport {
  readonly round: number;
  readonly adjustMs: number;
  readonly applied: boolean;
  readonly from: string;
  /** This server's synchronised clock when it arrived. */
  readonly at: number;
}

export interface ClockSyncStatus {
  /** The clock as it stamps messages now: slewed, never backwards. */
  readonly now: number;
  /** The time it converges on (every accepted adjustment included). */
  readonly corrected: number;
  /** Adjustment applied so far, ms (fractional while slewing). */
  readonly offsetMs: number;
  /** Accepted adjustment still to slew in, ms. */
  readonly pendingMs: number;
  readonly lastAdjustment: AdjustmentReport | undefined;
  /** Rounds coordinated by this server: completed, abandoned, and why they started. */
  readonly rounds: { readonly completed: number; readonly abandoned: number; readonly byReason: Readonly<Record<RoundReason, number>> };
  readonly adjustments: { readonly applied: number; readonly refused: number };
  /** clock.poll.request refused because its round lay implausibly far ahead (a forged poll). */
  readonly pollsRefused: number;
  readonly roundInProgress: { readonly round: number; readonly reason: RoundReason; readonly startedAt: number; readonly awaiting: readonly string[] } | undefined;
  readonly lastRound: RoundReport | undefined;
}

/** Counters for metrics, called as things happen. */
export interface ClockSyncHooks {
  onRound?(outcome: RoundReport['outcome']): void;
  onAdjustment?(applied: boolean): void;
}

/** How often an OVERLOADED poll is sent again (a worker connection that was busy a moment ago). */
const POLL_ATTEMPTS = 3;

/**
 * Berkeley clock synchronisation of one server, both sides:
 *
 * - **Participant** (every server): answers `clock.poll.request` with its corrected clock and applies
 *   `clock.adjust.request` to its SynchronizedTime, which slews it in (the clock never steps back).
 * - **Coordinator** (only while the election says so, checked when each round starts and again
 *   before adjustments go out): every `intervalMs`, after every `everyMessages` requests served, and
 *   at once when it takes over, it polls every live server's `srv.<id>`, computes the adjustments
 *   with BerkeleyCoordinator (median, outliers, slow replies) and sends them, its own included.
 *
 * Round numbers never repeat across coordinators: a coordinator starts above its clock in ms and
 * above every round it has seen, as participant or coordinator.
 */
export class ClockSync {
  readonly #self: string;
  readonly #time: SynchronizedTime;
  readonly #membership: SyncMembership;
  readonly #participant: BerkeleyParticipant;
  readonly #log: Logger;
  readonly #hooks: ClockSyncHooks;
  readonly #intervalMs: number;
  readonly #everyMessages: number;
  readonly #maxDeviationMs: number;
  readonly #maxRttMs: number;
  readonly #roundTimeoutMs: number;
  readonly #abort = new AbortController();
  #coordinator: BerkeleyCoordinator | undefined;
  #highestRound = 0;
  #messages = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #inProgress: ClockSyncStatus['roundInProgress'];
  #lastRound: RoundReport | undefined;
  #lastAdjustment: AdjustmentReport | undefined;
  readonly #rounds = { completed: 0, abandoned: 0, byReason: { interval: 0, messages: 0, takeover: 0 } satisfies Record<RoundReason, number> };
  readonly #adjustments = { applied: 0, refused: 0 };
  #pollsRefused = 0;

  constructor(options: ClockSyncOptions & { readonly self: string; readonly time: SynchronizedTime; readonly membership: SyncMembership; readonly logger: Logger; readonly hooks?: ClockSyncHooks }) {
    this.#self = options.self;
    this.#time = options.time;
    this.#membership = options.membership;
    this.#participant = new BerkeleyParticipant(options.time, { maxOffsetMs: nonNegative(options.maxOffsetMs ?? 3_600_000, 'maxOffsetMs') });
    this.#log = options.logger;
    this.#hooks = options.hooks ?? {};
    this.#intervalMs = nonNegative(options.intervalMs ?? 10_000, 'intervalMs');
    this.#everyMessages = nonNegative(options.everyMessages ?? 1000, 'everyMessages');
    this.#maxDeviationMs = nonNegative(options.maxDeviationMs ?? 10_000, 'maxDeviationMs');
    this.#maxRttMs = nonNegative(options.maxRttMs ?? 100, 'maxRttMs');
    this.#roundTimeoutMs = nonNegative(options.roundTimeoutMs ?? 2_000, 'roundTimeoutMs');
  }

  /** Starts the periodic rounds (they run only while this server coordinates). */
  start(): void {
    if (this.#intervalMs > 0 && this.#timer === undefined && !this.#abort.signal.aborted) {
      this.#timer = setInterval(() => this.trigger('interval'), this.#intervalMs);
    }
  }

  /** Stops the timer, abandons the round in progress and waits for it to end. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#abort.abort();
    await this.#running;
  }

  /** Counts one request served; every `everyMessages` of them the coordinator runs a round. */
  noteMessage(): void {
    if (this.#everyMessages === 0) return;
    this.#messages += 1;
    if (this.#messages >= this.#everyMessages && this.#membership.isCoordinator) this.trigger('messages');
  }

  /** The election changed: a coordinator that just took over syncs at once; one that stepped down forgets its rounds. */
  onActing(acting: boolean): void {
    this.#coordinator = undefined;
    if (acting) this.trigger('takeover');
  }

  /** Runs a round now unless one is running or this server is not the coordinator. */
  trigger(reason: RoundReason): void {
    if (this.#running !== undefined || this.#abort.signal.aborted || !this.#membership.isCoordinator) return;
    this.#messages = 0;
    const running = this.#round(reason)
      .catch((error: unknown) => this.#log.warn({ err: error, reason }, 'clock synchronisation round failed'))
      .finally(() => {
        if (this.#running === running) this.#running = undefined;
      });
    this.#running = running;
  }

  /** Answers `clock.poll.request` (participant side). */
  onPoll(request: ClockPollRequestBody): ClockPollReplyBody {
    let reply: ClockPollReplyBody;
    try {
      reply = this.#participant.onPoll(request);
    } catch (error) {
      if (!(error instanceof BerkeleyRoundError)) throw error;
      // A forged round must not become the floor of every round this server coordinates later.
      this.#pollsRefused += 1;
      this.#log.warn({ round: request.round }, 'refused a clock poll whose round lies implausibly far ahead');
      throw new BadRequestError(error.message, { data: error.data });
    }
    this.#highestRound = Math.max(this.#highestRound, request.round);
    return reply;
  }

  /** Answers `clock.adjust.request` (participant side): applied when it belongs to the round last polled. */
  onAdjust(request: ClockAdjustRequestBody, from: string): ClockAdjustReplyBody {
    const reply = this.#participant.onAdjust(request);
    this.#lastAdjustment = { round: request.round, adjustMs: request.adjust_ms, applied: reply.applied, from, at: this.#time.now() };
    if (reply.applied) this.#adjustments.applied += 1;
    else this.#adjustments.refused += 1;
    this.#hooks.onAdjustment?.(reply.applied);
    if (reply.applied) this.#log.debug({ round: request.round, adjustMs: request.adjust_ms, from }, 'clock adjusted');
    else this.#log.info({ round: request.round, adjustMs: request.adjust_ms, from }, 'clock adjustment refused (not the round last polled, or beyond the maximum offset)');
    return reply;
  }

  status(): ClockSyncStatus {
    return {
      now: this.#time.now(),
      corrected: this.#time.correctedNow(),
      offsetMs: round1(this.#time.offset),
      pendingMs: round1(this.#time.pending),
      lastAdjustment: this.#lastAdjustment,
      rounds: { completed: this.#rounds.completed, abandoned: this.#rounds.abandoned, byReason: { ...this.#rounds.byReason } },
      adjustments: { ...this.#adjustments },
      pollsRefused: this.#pollsRefused,
      roundInProgress: this.#inProgress,
      lastRound: this.#lastRound,
    };
  }

  async #round(reason: RoundReason): Promise<void> {
    const time = this.#time;
    const signal = this.#abort.signal;
    const coordinator = (this.#coordinator ??= new BerkeleyCoordinator({
      self: this.#self,
      maxDeviationMs: this.#maxDeviationMs,
      maxRttMs: this.#maxRttMs,
      roundTimeoutMs: this.#roundTimeoutMs,
      // Above every round any earlier coordinator used: those started at most at their clock in ms.
      firstRound: Math.max(time.correctedNow(), this.#highestRound + 1),
    }));
    const peers = this.#membership.liveServers.map(({ server }) => server).filter((server) => server !== this.#self);
    const startedAt = time.now();
    const started = performance.now();
    const start = coordinator.startRound(peers, time.correctedNow());
    this.#highestRound = Math.max(this.#highestRound, start.round);
    this.#participant.onPoll({ round: start.round }); // the coordinator's own clock takes part
    const awaiting = new Set(peers);
    this.#inProgress = { round: start.round, reason, startedAt, awaiting: [...awaiting] };
    try {
      await Promise.all(
        start.polls.map(async ({ participant, request }) => {
          const answer = await this.#poll(participant, request, start.deadline, signal);
          awaiting.delete(participant);
          if (this.#inProgress?.round === start.round) this.#inProgress = { ...this.#inProgress, awaiting: [...awaiting] };
          if (answer !== undefined) {
            const verdict = coordinator.onReply(participant, answer.reply, answer.timing);
            if (verdict !== 'accepted') this.#log.debug({ participant, round: start.round, verdict }, 'clock poll reply not counted');
          }
        }),
      );
      const result = coordinator.finish();
      // Act on the result only while still entitled to: a successor may be coordinating by now.
      if (signal.aborted || !this.#membership.isCoordinator) {
        this.#report(reason, startedAt, started, 'abandoned', result, new Map());
        return;
      }
      const applied = new Map<string, boolean>();
      await Promise.all(
        result.adjustments.map(async ({ participant, request }) => {
          if (participant === this.#self) {
            applied.set(participant, this.onAdjust(request, this.#self).applied);
            return;
          }
          const outcome = await this.#adjust(participant, request, signal);
          if (outcome !== undefined) applied.set(participant, outcome);
        }),
      );
      this.#report(reason, startedAt, started, 'completed', result, applied);
    } finally {
      this.#inProgress = undefined;
    }
  }

  async #poll(
    participant: string,
    request: ClockPollRequestBody,
    deadline: number,
    signal: AbortSignal,
  ): Promise<{ reply: ClockPollReplyBody; timing: { sentAt: number; receivedAt: number } } | undefined> {
    for (let attempt = 1; attempt <= POLL_ATTEMPTS; attempt++) {
      const sentAt = this.#time.correctedNow();
      const remaining = deadline - sentAt;
      if (remaining <= 0 || signal.aborted) return undefined;
      try {
        const envelope = await this.#membership.request(participant, 'clock.poll.request', request, { timeout: remaining, retries: 0, signal });
        // Read at once: every ms between the reply's arrival and this reading counts as round trip.
        const receivedAt = this.#time.correctedNow();
        return { reply: envelope.body as ClockPollReplyBody, timing: { sentAt, receivedAt } };
      } catch (error) {
        // A busy worker connection answers OVERLOADED at once: ask again, timing the new attempt.
        if (error instanceof CorreioError && error.code === 'OVERLOADED' && attempt < POLL_ATTEMPTS) continue;
        if (!signal.aborted) this.#log.debug({ err: error, participant, round: request.round }, 'clock poll failed');
        return undefined;
      }
    }
    return undefined;
  }

  async #adjust(participant: string, request: ClockAdjustRequestBody, signal: AbortSignal): Promise<boolean | undefined> {
    try {
      // Idempotent at the participant (relative to its poll), so a retry with the same id is safe.
      const envelope = await this.#membership.request(participant, 'clock.adjust.request', request, { timeout: this.#roundTimeoutMs, retries: 2, signal });
      return (envelope.body as ClockAdjustReplyBody).applied;
    } catch (error) {
      if (!signal.aborted) this.#log.warn({ err: error, participant, round: request.round }, 'clock adjustment not delivered');
      return undefined;
    }
  }

  #report(reason: RoundReason, startedAt: number, started: number, outcome: RoundReport['outcome'], result: BerkeleyRoundResult, applied: ReadonlyMap<string, boolean>): void {
    const clocks = result.clocks.map((clock): RoundClock => {
      const wasApplied = applied.get(clock.participant);
      return { ...clock, ...(clock.offsetMs !== undefined ? { offsetMs: round1(clock.offsetMs) } : {}), ...(wasApplied !== undefined ? { applied: wasApplied } : {}) };
    });
    const report: RoundReport = {
      round: result.round,
      reason,
      startedAt,
      durationMs: Math.round(performance.now() - started),
      outcome,
      medianOffsetMs: round1(result.medianOffsetMs),
      averageOffsetMs: round1(result.averageOffsetMs),
      clocks,
    };
    this.#lastRound = report;
    this.#rounds[outcome] += 1;
    this.#rounds.byReason[reason] += 1;
    this.#hooks.onRound?.(outcome);
    const level = outcome === 'completed' ? 'debug' : 'info';
    this.#log[level]({ round: report.round, reason, outcome, averageOffsetMs: report.averageOffsetMs, clocks: clocks.map((c) => `${c.participant}:${c.status}:${c.adjustMs ?? '-'}`) }, 'clock synchronisation round');
  }
}

function nonNegative(value: number, name: string): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a finite number ≥ 0, got ${value}`);
  return value;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
