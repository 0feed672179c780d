import { LamportClock, systemTime, type TimeSource } from '@correio/clocks';
import type { LamportInput } from '@correio/protocol';
import type { ClockReading, Stamp } from '@correio/transport';

/**
 * The one clock of a service instance, plugged into every socket it opens (client, workers,
 * publisher, subscriber) through the transport's Stamp hook: each send ticks the Lamport clock,
 * each received envelope is merged into it (within the protocol's bounds, which the clock applies),
 * so handlers never touch a clock.
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

  current(): ClockReading {
    return { lc: this.#clock.value, ts: this.#time.now() };
  }

  observe(remote: ClockReading, input: LamportInput = 'other'): boolean {
    // Envelopes are schema-checked before they get here; the guard keeps a bad peer from throwing in a
    // receive loop, and so does the catch: a store that cannot save the mark leaves the clock as it was.
    if (!(Number.isSafeInteger(remote.lc) && remote.lc >= 0)) return false;
    try {
      return remote.lc >= this.#clock.observe(remote.lc, input); // merged below what was received: clamped
    } catch {
      return false; // the next tick() retries the save and fails the send that needs it
    }
  }
}
