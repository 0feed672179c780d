import {
  BerkeleyCoordinator,
  BerkeleyParticipant,
  ManualTime,
  SynchronizedTime,
  skewedTime,
  type BerkeleyCoordinatorOptions,
  type BerkeleyRoundResult,
} from '@correio/clocks';
import { randomInt, seededRandom } from '@correio/testing';

export interface SimulatedProcessSpec {
  readonly id: string;
  /** Initial offset of its hardware clock from true time. */
  readonly offsetMs: number;
  readonly driftPpm: number;
  /** One-way network delay between it and the coordinator, drawn uniformly per message. */
  readonly delayMs: readonly [min: number, max: number];
  readonly maxAdjustMs?: number;
}

export interface SimulatedProcess {
  readonly id: string;
  readonly time: SynchronizedTime;
  readonly participant: BerkeleyParticipant;
}

interface InFlight {
  readonly deliverAt: number;
  readonly deliver: () => void;
}

/**
 * Berkeley synchronisation among simulated processes, one simulated millisecond at a time: the first
 * process coordinates; every message crosses a network with a random delay; every process's clock is
 * read every millisecond, and a clock that ever goes backwards (or steps, or stalls) fails the run.
 */
export class BerkeleySimulation {
  readonly trueTime = new ManualTime(1_700_000_000_000);
  readonly processes: SimulatedProcess[];
  readonly rounds: BerkeleyRoundResult[] = [];
  /** Every adjust reply the coordinator received, by participant. */
  readonly adjustReplies: Array<{ participant: string; round: number; applied: boolean }> = [];
  readonly #coordinator: BerkeleyCoordinator;
  readonly #specs: ReadonlyMap<string, SimulatedProcessSpec>;
  readonly #random: () => number;
  readonly #roundIntervalMs: number;
  #inFlight: InFlight[] = [];
  #elapsedMs = 0;
  #roundInProgress = false;
  #deadline = Number.POSITIVE_INFINITY;
  readonly #lastReading = new Map<string, number>();
  readonly #stalledFor = new Map<string, number>();

  constructor(options: {
    readonly processes: readonly SimulatedProcessSpec[];
    readonly seed: number;
    readonly roundIntervalMs: number;
    readonly coordinator: Omit<BerkeleyCoordinatorOptions, 'self'>;
  }) {
    this.#random = seededRandom(options.seed);
    this.#roundIntervalMs = options.roundIntervalMs;
    this.#specs = new Map(options.processes.map((spec) => [spec.id, spec]));
    this.processes = options.processes.map((spec) => {
      const time = new SynchronizedTime(skewedTime({ base: this.trueTime, offsetMs: spec.offsetMs, driftPpm: spec.driftPpm }));
      const participant = new BerkeleyParticipant(time, spec.maxAdjustMs === undefined ? {} : { maxAdjustMs: spec.maxAdjustMs });
      return { id: spec.id, time, participant };
    });
    this.#coordinator = new BerkeleyCoordinator({ ...options.coordinator, self: this.processes[0]!.id });
  }

  get elapsedMs(): number {
    return this.#elapsedMs;
  }

  process(id: string): SimulatedProcess {
    return this.processes.find((process) => process.id === id)!;
  }

  /** Runs `durationMs` simulated ms; `observe` runs after every ms. Throws as soon as a clock goes backwards. */
  run(durationMs: number, observe?: (simulation: this) => void): void {
    for (let step = 0; step < durationMs; step++) {
      this.trueTime.advance(1);
      this.#elapsedMs += 1;
      this.#deliverDue();
      if (this.#roundInProgress) this.#finishRoundIfDone();
      if (this.#elapsedMs % this.#roundIntervalMs === 0) this.#startRound();
      this.#checkMonotonic();
      observe?.(this);
    }
  }

  /** Largest minus smallest `now()` among these processes. */
  spread(ids: readonly string[]): number {
    const readings = ids.map((id) => this.process(id).time.now());
    return Math.max(...readings) - Math.min(...readings);
  }

  #coordinatorProcess(): SimulatedProcess {
    return this.processes[0]!;
  }

  #send(to: string, deliver: () => void): void {
    const [min, max] = this.#specs.get(to)!.delayMs;
    this.#inFlight.push({ deliverAt: this.#elapsedMs + randomInt(this.#random, min, max), deliver });
  }

  #deliverDue(): void {
    const due = this.#inFlight.filter((message) => message.deliverAt <= this.#elapsedMs);
    if (due.length === 0) return;
    this.#inFlight = this.#inFlight.filter((message) => message.deliverAt > this.#elapsedMs);
    for (const message of due) message.deliver();
  }

  #startRound(): void {
    if (this.#roundInProgress) this.#finishRound();
    const coordinator = this.#coordinatorProcess();
    const others = this.processes.slice(1);
    const start = this.#coordinator.startRound(
      others.map((process) => process.id),
      coordinator.time.correctedNow(),
    );
    coordinator.participant.onPoll({ round: start.round }); // the coordinator takes part in its own round
    this.#roundInProgress = true;
    this.#deadline = start.deadline;
    for (const { participant, request } of start.polls) {
      const sentAt = coordinator.time.correctedNow();
      const target = this.process(participant);
      this.#send(participant, () => {
        const reply = target.participant.onPoll(request);
        this.#send(participant, () => {
          this.#coordinator.onReply(participant, reply, { sentAt, receivedAt: coordinator.time.correctedNow() });
        });
      });
    }
  }

  #finishRoundIfDone(): void {
    const deadlineReached = this.#coordinatorProcess().time.correctedNow() > this.#deadline;
    if (this.#coordinator.awaiting.length === 0 || deadlineReached) this.#finishRound();
  }

  #finishRound(): void {
    this.#roundInProgress = false;
    const result = this.#coordinator.finish();
    this.rounds.push(result);
    for (const { participant, request } of result.adjustments) {
      const target = this.process(participant);
      if (target === this.#coordinatorProcess()) {
        target.participant.onAdjust(request);
        continue;
      }
      this.#send(participant, () => {
        const reply = target.participant.onAdjust(request);
        this.#send(participant, () => this.adjustReplies.push({ participant, ...reply }));
      });
    }
  }

  /**
   * Every clock moves forward smoothly: never back, never by more than 3 ms in one simulated ms, and
   * never standing still for more than 3 ms in a row. (Slewing at ≤ 50 % keeps a clock's rate within
   * [0.5, 1.5]; whole-ms readings of a clock drifting by ≤ 100 ppm add the rest.) A clock that stepped
   * instead of slewing, or froze through a negative adjustment, fails here.
   */
  #checkMonotonic(): void {
    for (const process of this.processes) {
      const reading = process.time.now();
      const last = this.#lastReading.get(process.id);
      if (last !== undefined) {
        const step = reading - last;
        if (step < 0) throw new Error(`${process.id}'s clock went backwards at ${this.#elapsedMs} ms: ${last} → ${reading}`);
        if (step > 3) throw new Error(`${process.id}'s clock jumped ${step} ms at ${this.#elapsedMs} ms`);
        const stalled = step === 0 ? (this.#stalledFor.get(process.id) ?? 0) + 1 : 0;
        if (stalled > 3) throw new Error(`${process.id}'s clock stood still for ${stalled} ms at ${this.#elapsedMs} ms`);
        this.#stalledFor.set(process.id, stalled);
      }
      this.#lastReading.set(process.id, reading);
    }
  }
}
