export interface LoginLimiterOptions {
  /** Failed logins allowed per user in one window (default 10). */
  readonly maxFailures?: number;
  /** The window (default 60 s). */
  readonly windowMs?: number;
  /** Users tracked at once; beyond it the least recently failed are forgotten (default 100,000). */
  readonly maxTracked?: number;
}

/**
 * Limits failed logins per user name, so a password cannot be guessed through the broker: after
 * maxFailures failures within windowMs, further attempts are refused until the oldest failure
 * leaves the window. Memory is bounded by maxTracked users of at most maxFailures times each.
 */
export class LoginLimiter {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #maxTracked: number;
  /** user → failure times, oldest first; Map order is least recently failed first. */
  readonly #failures = new Map<string, number[]>();

  constructor(options: LoginLimiterOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxTracked = options.maxTracked ?? 100_000;
  }

  /** 0 when `user` may try now, else how long (ms) until it may. */
  retryAfterMs(user: string, now = Date.now()): number {
    const times = this.#recent(user, now);
    if (times.length < this.#maxFailures) return 0;
    return times[0]! + this.#windowMs - now;
  }

  /** Records a failed attempt. */
  failed(user: string, now = Date.now()): void {
    const times = this.#recent(user, now);
    times.push(now);
    if (times.length > this.#maxFailures) times.shift();
    this.#failures.delete(user);
    this.#failures.set(user, times);
    if (this.#failures.size > this.#maxTracked) this.#failures.delete(this.#failures.keys().next().value!);
  }

  /** A successful login clears the user's failures. */
  succeeded(user: string): void {
    this.#failures.delete(user);
  }

  #recent(user: string, now: number): number[] {
    const times = this.#failures.get(user) ?? [];
    while (times.length > 0 && times[0]! <= now - this.#windowMs) times.shift();
    return times;
  }
}
