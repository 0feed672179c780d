export interface RestartPolicyOptions {
  /** Restarts allowed within `windowMs`; one more crash and the component is given up. */
  readonly maxRestarts: number;
  /** Defaults to 60 s. */
  readonly windowMs?: number;
  /** First delay before a restart; doubles with each restart in the window. Defaults to 500 ms. */
  readonly initialDelayMs?: number;
  /** Defaults to 10 s. */
  readonly maxDelayMs?: number;
}

/**
 * Bounded restarts with exponential backoff: a component that crashes is started again after
 * 0.5 s, 1 s, 2 s … (capped), as long as it crashed at most `maxRestarts` times in the last
 * `windowMs`; a component that keeps crashing is given up instead of flapping forever. A crash
 * long after the previous ones starts the count afresh.
 */
export class RestartPolicy {
  readonly #options: Required<RestartPolicyOptions>;
  readonly #restarts: number[] = [];

  constructor(options: RestartPolicyOptions) {
    this.#options = { windowMs: 60_000, initialDelayMs: 500, maxDelayMs: 10_000, ...options };
  }

  /** Restarts so far, in all. */
  total = 0;

  /** After a crash at `now`: the delay before restarting, or undefined to give up. */
  next(now: number): number | undefined {
    const since = now - this.#options.windowMs;
    while (this.#restarts.length > 0 && this.#restarts[0]! < since) this.#restarts.shift();
    if (this.#restarts.length >= this.#options.maxRestarts) return undefined;
    const delay = Math.min(this.#options.maxDelayMs, this.#options.initialDelayMs * 2 ** this.#restarts.length);
    this.#restarts.push(now);
    this.total += 1;
    return delay;
  }
}
