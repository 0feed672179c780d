import { LamportClock, systemTime, type TimeSource } from '@correio/clocks';
import type { ClockReading, Stamp } from '@correio/transport';

/**
 * The one clock of a service instance, plugged into every socket it opens (client, workers,
 * publisher, subscriber) through the transport's Stamp hook: each send ticks the Lamport clock,
 * each received envelope is merged into it, so handlers never touch a clock.
 */
export class ClockStamp implements Stamp {
  readonly from: string;
  readonly #clock: LamportClock;
  readonly #time: TimeSource;

  constructor(from: string, options: { readonly clock?: LamportClock; readonly time?: TimeSource } = {}) {
    this.from = from;
    this.#clock = options.clock ?? new LamportClock();
    this.#time = options.time ?? systemTime;
  }

  /** The latest Lamport value issued or merged. */
  get lc(): number {
    return this.#clock.value;
  }

  tick(): ClockReading {
    return { lc: this.#clock.tick(), ts: this.#time.now() };
  }

  observe(remote: ClockReading): void {
    // Envelopes are schema-checked before they get here; the guard keeps a bad peer from throwing in a receive loop.
    if (Number.isSafeInteger(remote.lc) && remote.lc >= 0) this.#clock.observe(remote.lc);
  }
}
