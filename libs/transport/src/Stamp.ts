import { LamportBounds, LamportExhaustedError, MAX_LAMPORT, mergeLamport, type LamportBoundsOptions, type LamportInput } from '@correio/protocol';

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
 * LamportBounds): `observe` merges a received value only as far as they allow, says whether it had
 * to clamp it, and never throws — a request beyond them is merged clamped and served like any other
 * (refusing it let an attacker who had spent a node's budget cut honest peers off from it); `tick`
 * throws only when the clock cannot issue a value (exhausted at 2^53 − 1, or its store failing), and
 * then `current` still stamps the error reply.
 */
export interface Stamp {
  /** The sender id written into every envelope's `from` (1–128 printable ASCII characters). */
  readonly from: string;
  /** Advances the clock for one send and returns the values to write. */
  tick(): ClockReading;
  /** The latest values without advancing: what an error reply carries when tick() fails. Never throws. */
  current(): ClockReading;
  /**
   * Merges the clock of a received envelope (`input` says whether it is a request), within the
   * bounds; true when its lc lay beyond them and was merged only up to them (counted by the stamp).
   * Never throws.
   */
  observe(remote: ClockReading, input?: LamportInput): boolean;
}

/** The default Stamp: a plain Lamport counter under the protocol's bounds, and the local wall clock. */
export class LamportStamp implements Stamp {
  readonly from: string;
  readonly #now: () => number;
  readonly #bounds: LamportBounds;
  #counter: number;
  #clamped = 0;
  #clampedRequests = 0;

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

  /** Received values merged only up to the bounds, and how many of them were requests. */
  get stats(): { readonly clamped: number; readonly clampedRequests: number } {
    return { clamped: this.#clamped, clampedRequests: this.#clampedRequests };
  }

  tick(): ClockReading {
    if (this.#counter >= MAX_LAMPORT) throw new LamportExhaustedError();
    this.#counter += 1;
    return { lc: this.#counter, ts: this.#now() };
  }

  current(): ClockReading {
    return { lc: this.#counter, ts: this.#now() };
  }

  observe(remote: ClockReading, input: LamportInput = 'other'): boolean {
    if (!(Number.isSafeInteger(remote.lc) && remote.lc >= 0)) return false;
    this.#counter = mergeLamport(this.#bounds, this.#counter, remote.lc);
    const clamped = remote.lc >= this.#counter;
    if (clamped) {
      this.#clamped += 1;
      if (input === 'request') this.#clampedRequests += 1;
    }
    return clamped;
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
