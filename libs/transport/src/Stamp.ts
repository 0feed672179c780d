/** The clock fields of an envelope. */
export interface ClockReading {
  /** Logical clock (Lamport) after the tick for this send. */
  readonly lc: number;
  /** Physical time, ms since the Unix epoch. */
  readonly ts: number;
}

/**
 * How the transport stamps what it sends and learns from what it receives. Every outgoing
 * envelope gets `from` and a fresh `tick()`; every valid incoming envelope is passed to
 * `observe`. The clocks library plugs its Lamport or hybrid logical clock in through this
 * interface, so the transport never needs to know which clock it runs on.
 */
export interface Stamp {
  /** The sender id written into every envelope's `from` (1–128 printable ASCII characters). */
  readonly from: string;
  /** Advances the clock for one send and returns the values to write. */
  tick(): ClockReading;
  /** Merges the clock of a received envelope. */
  observe(remote: ClockReading): void;
}

const MAX_CLOCK = Number.MAX_SAFE_INTEGER;

/** The default Stamp: a plain Lamport counter and the local wall clock. */
export class LamportStamp implements Stamp {
  readonly from: string;
  readonly #now: () => number;
  #counter: number;

  constructor(from: string, options: { readonly start?: number; readonly now?: () => number } = {}) {
    if (!/^[\x21-\x7e]{1,128}$/.test(from)) throw new RangeError(`sender id must be 1–128 printable ASCII characters, got ${JSON.stringify(from)}`);
    this.from = from;
    this.#counter = options.start ?? 0;
    this.#now = options.now ?? Date.now;
  }

  /** The counter's current value. */
  get value(): number {
    return this.#counter;
  }

  tick(): ClockReading {
    this.#counter = Math.min(this.#counter + 1, MAX_CLOCK);
    return { lc: this.#counter, ts: this.#now() };
  }

  observe(remote: ClockReading): void {
    // Lamport's receive rule: jump past everything the sender had seen.
    if (Number.isSafeInteger(remote.lc) && remote.lc >= this.#counter) this.#counter = Math.min(remote.lc + 1, MAX_CLOCK);
  }
}

/** A sender id for components that were given none: a prefix and random suffix. */
export function defaultSenderId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}
