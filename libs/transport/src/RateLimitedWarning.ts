import type { Logger } from '@correio/observability';

/**
 * A warning that a peer can trigger at will, logged at most once per interval (with how many
 * occurred since the last one), each occurrence at debug: a flood of hostile input must not become
 * a flood of log lines.
 */
export class RateLimitedWarning {
  readonly #log: Logger;
  readonly #message: string;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #warnedAt = Number.NEGATIVE_INFINITY;
  #since = 0;

  constructor(log: Logger, message: string, options: { readonly intervalMs?: number; readonly now?: () => number } = {}) {
    this.#log = log;
    this.#message = message;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Records one occurrence, with what identifies it. */
  note(details: object): void {
    this.#since += 1;
    const now = this.#now();
    if (now - this.#warnedAt < this.#intervalMs) {
      this.#log.debug(details, this.#message);
      return;
    }
    this.#log.warn({ ...details, occurrences: this.#since }, `${this.#message} (${this.#since} since the last such warning; the next within ${this.#intervalMs / 1000} s at debug)`);
    this.#warnedAt = now;
    this.#since = 0;
  }
}
