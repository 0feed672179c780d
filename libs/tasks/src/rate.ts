/** A rate: `count` per `perMs` milliseconds. */
export interface Rate {
  readonly count: number;
  readonly perMs: number;
}

const UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000 };

/** Parses `10/s`, `100/m`, `5/h` (Celery's rate_limit notation); RangeError on anything else. */
export function parseRate(text: string): Rate {
  const match = /^(\d{1,9})\/(s|m|h)$/.exec(text.trim());
  if (!match || Number(match[1]) === 0) throw new RangeError(`not a rate: ${JSON.stringify(text)} (expected <count>/<s|m|h> with a count of at least 1, such as 10/s)`);
  return { count: Number(match[1]), perMs: UNITS[match[2]!]! };
}

/**
 * A token bucket: up to `count` at once (a burst), refilled evenly over `perMs`. `take` says how
 * many of `wanted` may go now; `waitMs` how long until one more may.
 */
export class TokenBucket {
  readonly #rate: Rate;
  readonly #now: () => number;
  #tokens: number;
  #at: number;

  constructor(rate: Rate, now: () => number = () => performance.now()) {
    this.#rate = rate;
    this.#now = now;
    this.#tokens = rate.count;
    this.#at = now();
  }

  take(wanted: number): number {
    this.#refill();
    const granted = Math.max(0, Math.min(wanted, Math.floor(this.#tokens)));
    this.#tokens -= granted;
    return granted;
  }

  get available(): number {
    this.#refill();
    return Math.floor(this.#tokens);
  }

  waitMs(): number {
    this.#refill();
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * this.#rate.perMs) / this.#rate.count);
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.#rate.count, this.#tokens + ((now - this.#at) * this.#rate.count) / this.#rate.perMs);
    this.#at = now;
  }
}
