import { LamportBounds, LamportExhaustedError, MAX_LAMPORT, MAX_MERGED_LAMPORT, mergeLamport, type LamportBoundsOptions, type LamportInput } from '@correio/protocol';
import type { ClockStore } from './ClockStore.js';
import { requireClockInteger } from './limits.js';

export interface LamportClockOptions {
  /** Persists the high-water mark; without it the clock restarts from 0. */
  readonly store?: ClockStore;
  /** How many values one save() reserves ahead. Default 1000: one write per 1000 ticks. */
  readonly reserve?: number;
  /** How far received values may move the clock (the protocol's LamportBounds); defaults to its defaults. */
  readonly bounds?: LamportBoundsOptions;
}

/** What hostile or broken input did to a clock: received values merged only up to the bound, and how many of them were requests. */
export interface LamportClockStats {
  readonly clamped: number;
  readonly clampedRequests: number;
}

/**
 * A Lamport clock: `tick()` before each send or local event, `observe(received)` on each receive.
 * Values are integers in [1, 2^53 − 1], strictly increasing within one instance; for every message
 * within the protocol's bounds (LamportBounds, protocol/ENCODING.md §4.1) the receiver's value after
 * `observe()` is greater than the sender's value in the message. A received value beyond them —
 * of a request too, which is still served — is merged only up to the bound and counted: no peer can
 * exhaust the clock. At 2^53 − 1, `tick()` throws a LamportExhaustedError and `observe()` stays
 * put: the clock degrades, it never wraps.
 *
 * Persistence (with a store): before issuing a value above the saved mark, the clock saves
 * `value + reserve` and only then issues it, so every value ever issued is ≤ the mark in the store.
 * A restarted clock resumes at the loaded mark, so **every value it issues is strictly greater than
 * every value issued before the restart** — provided save() is durable when it returns and a single
 * process owns the store. The cost is one save per `reserve` values (plus one whenever `observe()`
 * jumps past the mark); a restart skips at most `reserve` values, which Lamport order does not mind.
 */
export class LamportClock {
  readonly #store: ClockStore | undefined;
  readonly #reserve: number;
  readonly #bounds: LamportBounds;
  #value: number;
  /** Values up to this mark are covered by the store (no store: unbounded). */
  #reservedUpTo: number;
  #clamped = 0;
  #clampedRequests = 0;

  constructor(options: LamportClockOptions = {}) {
    this.#store = options.store;
    this.#reserve = options.reserve ?? 1000;
    if (!Number.isSafeInteger(this.#reserve) || this.#reserve < 1) {
      throw new RangeError(`reserve must be a positive integer, got ${this.#reserve}`);
    }
    this.#bounds = new LamportBounds(options.bounds);
    const loaded = this.#store?.load();
    this.#value = loaded === undefined ? 0 : requireClockInteger(loaded, 'the stored Lamport mark');
    this.#reservedUpTo = this.#store === undefined ? MAX_LAMPORT : this.#value;
  }

  /** The latest value issued (0 before the first). */
  get value(): number {
    return this.#value;
  }

  get stats(): LamportClockStats {
    return { clamped: this.#clamped, clampedRequests: this.#clampedRequests };
  }

  /** Advances the clock for a send or local event and returns the new value; a LamportExhaustedError at 2^53 − 1. */
  tick(): number {
    if (this.#value >= MAX_LAMPORT) throw new LamportExhaustedError();
    return this.#issue(this.#value + 1);
  }

  /**
   * Merges a received value: the clock becomes `max(value, bounded) + 1` (at most 2^53 − 1), which
   * it returns, where `bounded` is `received` or, further ahead than the bounds allow, the bound
   * (counted in stats, by `input`).
   */
  observe(received: number, input: LamportInput = 'other'): number {
    requireClockInteger(received, 'a received Lamport value');
    const next = mergeLamport(this.#bounds, this.#value, received);
    if (received >= next) {
      this.#clamped += 1;
      if (input === 'request') this.#clampedRequests += 1;
    }
    return next === this.#value ? next : this.#issue(next);
  }

  /**
   * Resumes from a value this process trusts (the largest clock in its own store), without the
   * bounds that apply to received values, but never above MAX_MERGED_LAMPORT: a store stamped by an
   * older version with a poisoned clock must not leave this clock without room to tick. Returns
   * false when `floor` was above that line and the clock resumed below it.
   */
  resume(floor: number): boolean {
    requireClockInteger(floor, 'a resumed Lamport value');
    const target = Math.min(floor, MAX_MERGED_LAMPORT);
    if (target > this.#value) this.#issue(target);
    return target === floor;
  }

  #issue(next: number): number {
    if (next > this.#reservedUpTo) {
      const mark = Math.min(next - 1 + this.#reserve, MAX_LAMPORT);
      this.#store!.save(mark); // write-ahead: if this throws, nothing was issued
      this.#reservedUpTo = mark;
    }
    this.#value = next;
    return next;
  }
}
