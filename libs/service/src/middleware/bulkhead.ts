import { OverloadedError } from '@correio/codec';
import type { AnyContextMiddleware } from './Middleware.js';

export interface BulkheadOptions {
  /** Calls that may run at once. */
  readonly concurrency: number;
  /** Calls that may wait for a slot; one more is refused with OVERLOADED. Defaults to 0. */
  readonly queue?: number;
  /** A name for error messages and health reports. */
  readonly name?: string;
}

export interface BulkheadSnapshot {
  readonly running: number;
  readonly queued: number;
  readonly concurrency: number;
  readonly queue: number;
  /** Calls refused with OVERLOADED so far. */
  readonly rejected: number;
}

export interface BulkheadMiddleware extends AnyContextMiddleware {
  snapshot(): BulkheadSnapshot;
}

interface Waiter {
  readonly admit: () => void;
  readonly signal: AbortSignal;
  readonly onAbort: () => void;
}

/**
 * A compartment: at most `concurrency` calls run through it at once, at most `queue` more wait
 * (first come, first served), and any further call fails at once with OVERLOADED (retryable), so one
 * slow action cannot take every worker of a service. A waiting call leaves the queue when its signal aborts.
 */
export function bulkhead(options: BulkheadOptions): BulkheadMiddleware {
  const concurrency = options.concurrency;
  const queueLimit = options.queue ?? 0;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('bulkhead.concurrency must be a positive integer');
  if (!Number.isInteger(queueLimit) || queueLimit < 0) throw new RangeError('bulkhead.queue must be a non-negative integer');
  let running = 0;
  let rejected = 0;
  const waiting: Waiter[] = [];

  const release = () => {
    const waiter = waiting.shift();
    if (waiter) {
      waiter.signal.removeEventListener('abort', waiter.onAbort);
      waiter.admit(); // the slot passes straight to the next caller: `running` stays the same
    } else running--;
  };

  const acquire = (signal: AbortSignal, label: string): Promise<void> => {
    if (running < concurrency) {
      running++;
      return Promise.resolve();
    }
    if (waiting.length >= queueLimit || signal.aborted) {
      rejected++;
      return Promise.reject(
        new OverloadedError(`${label} is at its concurrency limit (${running} running, ${waiting.length} queued); retry later`, {
          data: { bulkhead: options.name ?? label, concurrency, queue: queueLimit },
        }),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        admit: resolve,
        signal,
        onAbort: () => {
          const index = waiting.indexOf(waiter);
          if (index >= 0) waiting.splice(index, 1);
          reject(signal.reason);
        },
      };
      waiting.push(waiter);
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    });
  };

  const middleware = ((next) => async (ctx, params) => {
    await acquire(ctx.signal, options.name ?? ctx.action);
    try {
      return await next(ctx, params);
    } finally {
      release();
    }
  }) as BulkheadMiddleware;
  middleware.snapshot = () => ({ running, queued: waiting.length, concurrency, queue: queueLimit, rejected });
  return middleware;
}
