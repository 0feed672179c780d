/** The largest Lamport value a message may carry (protocol/ENCODING.md §1, §4: 2^53 − 1). */
export const MAX_LAMPORT = Number.MAX_SAFE_INTEGER;

/**
 * The last values below MAX_LAMPORT that only a clock's own ticks may reach: no received value is
 * merged above MAX_LAMPORT − LAMPORT_ROOM, so a clock always has this many ticks left whatever its
 * peers send, and a persisted mark above that line was written by an older version (a poisoned mark).
 */
export const LAMPORT_ROOM = 2 ** 32;

/** The highest value a received clock can lift a clock to (ENCODING.md §4.1). */
export const MAX_MERGED_LAMPORT = MAX_LAMPORT - LAMPORT_ROOM;

/** Where a received Lamport value came from, for counting: a request (served all the same, §4.1), or anything else. */
export type LamportInput = 'request' | 'other';

export interface LamportBoundsOptions {
  /** A received value at most this far above the local clock is always merged in full. Default 2^16. */
  readonly freeJump?: number;
  /** Larger jumps draw on a budget that holds at most this much. Default 2^32. */
  readonly maxJump?: number;
  /** The budget refills at this many values per second. Default 2^20. */
  readonly refillPerSecond?: number;
  /** A monotonic clock in ms, for the refill. Default performance.now. */
  readonly now?: () => number;
}

/** A clock's last value is MAX_LAMPORT: it cannot issue another. */
export class LamportExhaustedError extends RangeError {
  override name = 'LamportExhaustedError';

  constructor() {
    super(`the Lamport clock is at 2^53 − 1 and cannot issue another value`);
  }
}

/**
 * Correio's one rule for how far a received Lamport value may move a clock (ENCODING.md §4.1),
 * shared by every Lamport clock in TypeScript (the clocks library's LamportClock, the transport's
 * LamportStamp, the broker's error replies). Lamport's receive rule is `max(local, received) + 1`;
 * here `received` first goes through bound(): a value up to `freeJump` above the local clock passes
 * as is; a larger jump must fit a budget of at most `maxJump` that refills at `refillPerSecond`, and
 * nothing is merged above MAX_MERGED_LAMPORT. A jump beyond that is clamped — for every message,
 * requests included: none is refused for its clock — so no sequence of messages can move a clock
 * faster than `freeJump` per message plus `refillPerSecond` per second: with the defaults,
 * exhausting it takes 2^37 messages or centuries.
 */
export class LamportBounds {
  readonly #freeJump: number;
  readonly #maxJump: number;
  readonly #refillPerMs: number;
  readonly #now: () => number;
  #budget: number;
  #refilledAt: number;

  constructor(options: LamportBoundsOptions = {}) {
    this.#freeJump = nonNegative(options.freeJump ?? 2 ** 16, 'freeJump');
    this.#maxJump = nonNegative(options.maxJump ?? 2 ** 32, 'maxJump');
    this.#refillPerMs = nonNegative(options.refillPerSecond ?? 2 ** 20, 'refillPerSecond') / 1000;
    this.#now = options.now ?? (() => performance.now());
    this.#budget = this.#maxJump;
    this.#refilledAt = this.#now();
  }

  /** The highest received value a clock at `local` merges in full now. */
  limit(local: number): number {
    // The budget refills by fractions of a value per fractional ms; a clock value is an integer.
    return Math.max(local, Math.min(MAX_MERGED_LAMPORT, local + Math.max(this.#freeJump, Math.floor(this.#refill()))));
  }

  /** The value a clock at `local` merges for `received`: itself, or limit(local) when further ahead. Spends the budget. */
  bound(local: number, received: number): number {
    const merged = Math.min(received, this.limit(local));
    const jump = merged - local;
    if (jump > this.#freeJump) this.#budget = Math.max(0, this.#budget - jump);
    return merged;
  }

  #refill(): number {
    const now = this.#now();
    this.#budget = Math.min(this.#maxJump, this.#budget + Math.max(0, now - this.#refilledAt) * this.#refillPerMs);
    this.#refilledAt = now;
    return this.#budget;
  }
}

/** Lamport's receive rule under `bounds`, as every TypeScript clock applies it: the clock's next value, at most MAX_LAMPORT. */
export function mergeLamport(bounds: LamportBounds, local: number, received: number): number {
  return Math.min(MAX_LAMPORT, Math.max(local, bounds.bound(local, received)) + 1);
}

function nonNegative(value: number, name: string): number {
  if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}
