import { toMillis, type Duration } from './duration.js';

export interface BackoffOptions {
  /** The first delay. Defaults to 100ms. */
  readonly initial?: Duration;
  /** The cap on any delay. Defaults to 30s. */
  readonly max?: Duration;
  /** Growth per attempt. Defaults to 2. */
  readonly factor?: number;
  /**
   * Share of each delay that is randomised, 0..1. Defaults to 0.5: a crowd of clients that failed
   * together does not retry together.
   */
  readonly jitter?: number;
}

/** Delay before retry number `attempt` (1-based): exponential growth, capped, with bounded jitter. */
export type Backoff = (attempt: number) => number;

export function exponentialBackoff(options: BackoffOptions = {}, random: () => number = Math.random): Backoff {
  const initial = toMillis(options.initial ?? 100, 'backoff.initial');
  const max = toMillis(options.max ?? 30_000, 'backoff.max');
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? 0.5;
  if (!(factor >= 1)) throw new RangeError(`backoff.factor must be at least 1, got ${factor}`);
  if (!(jitter >= 0 && jitter <= 1)) throw new RangeError(`backoff.jitter must be between 0 and 1, got ${jitter}`);
  return (attempt) => {
    const exponent = Math.max(0, Math.min(attempt - 1, 64));
    const base = Math.min(max, initial * factor ** exponent);
    // Subtractive jitter keeps every delay within [base·(1-jitter), base], so the cap holds.
    return Math.round(base - base * jitter * random());
  };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
