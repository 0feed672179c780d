/** Exponential backoff between attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, ms. Default 100. */
  readonly initialMs?: number;
  /** Largest delay, ms. Default 5000. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Fraction of each delay that is randomised (0–1), so peers that failed together do not retry together. Default 0.2. */
  readonly jitter?: number;
}

/** The delay before retry number `retry` (1 for the first retry). */
export function backoffDelay(retry: number, options: BackoffOptions = {}): number {
  const initial = options.initialMs ?? 100;
  const max = options.maxMs ?? 5000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const base = Math.min(max, initial * factor ** Math.max(0, retry - 1));
  return Math.round(base * (1 - jitter + Math.random() * jitter));
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
