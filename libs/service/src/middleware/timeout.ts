import { TimeoutError } from '@correio/codec';
import type { CallContext } from '../context.js';
import { toMillis, type Duration } from '../duration.js';
import { withChildSignal, type AnyContextMiddleware } from './Middleware.js';

/**
 * Fails a call with TIMEOUT after `limit` (or after the limit `limit(ctx)` returns; undefined means
 * none) and aborts `ctx.signal` for the rest of the chain, so a handler that listens can stop working.
 * A handler that ignores its signal keeps running, but its caller is answered on time.
 */
export function timeout(limit: Duration | ((ctx: CallContext) => number | undefined)): AnyContextMiddleware {
  const fixed = typeof limit === 'function' ? undefined : toMillis(limit, 'timeout');
  return (next) => (ctx, params) => {
    const ms = typeof limit === 'function' ? limit(ctx) : fixed;
    if (ms === undefined) return next(ctx, params);
    return withChildSignal(ctx.signal, (signal, abort) => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const error = new TimeoutError(`${ctx.action} did not finish within ${ms}ms`, { data: { action: ctx.action, timeout: ms } });
          abort(error);
          reject(error);
        }, ms);
      });
      // A handler's late rejection after the timeout must not become an unhandled rejection.
      const work = next({ ...ctx, signal }, params);
      work.catch(() => undefined);
      return Promise.race([work, expired]).finally(() => clearTimeout(timer));
    });
  };
}
