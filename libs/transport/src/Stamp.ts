import { LamportBounds, LamportExhaustedError, MAX_LAMPORT, mergeLamport, type LamportBoundsOptions } from '@correio/protocol';

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
 *
 * Every implementation follows the protocol's Lamport bounds (protocol/ENCODING.md §4.1,
 * LamportBounds): `observe` merges a received value only as far as they allow and never throws;
 * `admits` says whether a request may be served (a request beyond them is refused with
 * BAD_REQUEST, reason `lamport_ahead`, and merges nothing); `tick` throws only when the clock
 * cannot issue a value (exhausted at 2^53 − 1, or its store failing), and then `current` still
 * stamps the error reply.
 */
export interface Stamp {
  /** The sender id written into every envelope's `from` (1–128 printable ASCII characters). */
  readonly from: string;
  /** Advances the clock for one send and returns the values to write. */
  tick(): ClockReading;
  /** The latest values without advancing: what an error reply carries when tick() fails. Never throws. */
  current(): ClockReading;
  /** Merges the clock of a received envelope, within the bounds. Never throws. */
  observe(remote: ClockReading): void;
  /** Whether a request with this clock is within the bounds; false is counted by the stamp. */
  admits(remote: ClockReading): boolean;
  /** The highest lc a request may carry now (the `max_lc` of the refusal). */
  admitLimit(): number;
}

/** The default Stamp: a plain Lamport counter under the protocol's bounds, and the local wall clock. */
export class LamportStamp implements Stamp {
  readonly from: string;
  readonly #now: () => number;
  readonly #bounds: LamportBounds;
  #counter: number;
  #refused = 0;

  constructor(from: string, options: { readonly start?: number; readonly now?: () => number; readonly bounds?: LamportBoundsOptions } = {}) {
    if (!/^[\x21-\x7e]{1,128}$/.test(from)) throw new RangeError(`sender id must be 1–128 printable ASCII characters, got ${JSON.stringify(from)}`);
    this.from = from;
    this.#counter = options.start ?? 0;
    this.#now = options.now ?? Date.now;
    this.#bounds = new LamportBounds(options.bounds);
  }

  /** The counter's current value. */
  get value(): number {
    return this.#counter;
  }

  /** Requests refused by admits(). */
  get refused(): number {
    return this.#refused;
  }

  tick(): ClockReading {
    if (this.#counter >= MAX_LAMPORT) throw new LamportExhaustedError();
    this.#counter += 1;
    return { lc: this.#counter, ts: this.#now() };
  }

  current(): ClockReading {
    return { lc: this.#counter, ts: this.#now() };
  }

  observe(remote: ClockReading): void {
    if (Number.isSafeInteger(remote.lc) && remote.lc >= 0) this.#counter = mergeLamport(this.#bounds, this.#counter, remote.lc);
  }

  admits(remote: ClockReading): boolean {
    if (this.#bounds.admits(this.#counter, remote.lc)) return true;
    this.#refused += 1;
    return false;
  }

  admitLimit(): number {
    return this.#bounds.limit(this.#counter);
  }
}

/** The clock of an error reply: a fresh tick, or the stamp's current values when it cannot tick. Never throws. */
export function errorReading(stamp: Stamp): ClockReading {
  try {
    return stamp.tick();
  } catch {
    return stamp.current();
  }
}

/** A sender id for components that were given none: a prefix and random suffix. */
export function defaultSenderId(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}
