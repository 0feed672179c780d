import { CorreioError } from '@correio/codec';
import { exponentialBackoff, sleep, type BackoffOptions } from '../backoff.js';
import type { ClientCallContext } from '../context.js';
import type { Middleware } from './Middleware.js';

export interface RetryOptions {
  /** Delays between attempts. Defaults to 100ms doubling to at most 5s, with jitter. */
  readonly backoff?: BackoffOptions;
  /** Which failures are worth another attempt. Defaults to the error's `retryable` flag. */
  readonly isRetryable?: (error: CorreioError) => boolean;
  /** Told about each retry, such as to log it. */
  readonly onRetry?: (ctx: ClientCallContext, error: CorreioError, delayMs: number) => void;
}

/**
 * Client-side retry: after a retryable failure, waits a backoff delay and tries again with the
 * SAME request id (ENCODING.md §5), up to `ctx.retries` more times. Stops at once when the call's
 * signal aborts. Every failure it passes on is a CorreioError.
 */
export function retry(options: RetryOptions = {}): Middleware<ClientCallContext> {
  const delay = exponentialBackoff({ initial: 100, max: 5_000, ...options.backoff });
  const isRetryable = options.isRetryable ?? ((error: CorreioError) => error.retryable);
  return (next) => async (ctx, params) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await next({ ...ctx, attempt }, params);
      } catch (thrown) {
        const error = CorreioError.from(thrown);
        if (attempt > ctx.retries || !isRetryable(error) || ctx.signal.aborted) throw error;
        const wait = delay(attempt);
        options.onRetry?.(ctx, error, wait);
        try {
          await sleep(wait, ctx.signal);
        } catch {
          throw error; // given up while waiting: the last real failure says more than "aborted"
        }
      }
    }
  };
}
