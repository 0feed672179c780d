import type { ClockStore } from './ClockStore.js';
import { MAX_CLOCK_VALUE, requireClockInteger } from './limits.js';

export interface LamportClockOptions {
  /** Persists the high-water mark; without it the clock restarts from 0. */
  readonly store?: ClockStore;
  /** How many values one save() reserves ahead. Default 1000: one write per 1000 ticks. */
  readonly reserve?: number;
}

/**
 * A Lamport clock: `tick()` before each send or local event, `observe(received)` on each receive.
 * Values are integers in [1, 2^53 − 1], strictly increasing within one instance; for every message,
 * the receiver's value after `observe()` is greater than the sender's value in the message.
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
  #value: number;
  /** Values up to this mark are covered by the store (no store: unbounded). */
  #reservedUpTo: number;

  constructor(options: LamportClockOptions = {}) {
    this.#store = options.store;
    this.#reserve = options.reserve ?? 1000;
    if (!Number.isSafeInteger(this.#reserve) || this.#reserve < 1) {
      throw new RangeError(`reserve must be a positive integer, got ${this.#reserve}`);
    }
    const loaded = this.#store?.load();
    this.#value = loaded === undefined ? 0 : requireClockInteger(loaded, 'the stored Lamport mark');
    this.#reservedUpTo = this.#store === undefined ? MAX_CLOCK_VALUE : this.#value;
  }

  /** The latest value issued (0 before the first). */
  get value(): number {
    return this.#value;
  }

  /** Advances the clock for a send or local event and returns the new value. */
  tick(): number {
    return this.#issue(this.#value + 1);
  }

  /** Merges a received value: the clock becomes `max(value, received) + 1`, which it returns. */
  observe(received: number): number {
    requireClockInteger(received, 'a received Lamport value');
    return this.#issue(Math.max(this.#value, received) + 1);
  }

  #issue(next: number): number {
    if (next > MAX_CLOCK_VALUE) throw new RangeError(`the Lamport clock is exhausted: ${next} exceeds 2^53 − 1`);
    if (next > this.#reservedUpTo) {
      const mark = Math.min(next - 1 + this.#reserve, MAX_CLOCK_VALUE);
      this.#store!.save(mark); // write-ahead: if this throws, nothing was issued
      this.#reservedUpTo = mark;
    }
    this.#value = next;
    return next;
  }
}
