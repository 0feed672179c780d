import { CorreioError } from '@correio/codec';
import type { Logger } from 'pino';
import type { CallContext } from '../context.js';
import type { AnyContextMiddleware } from './Middleware.js';

export interface LoggingOptions {
  readonly logger: Logger;
  /** The level of successful calls. Defaults to `debug`: a busy service is quiet unless asked. */
  readonly level?: 'trace' | 'debug' | 'info';
}

// Failures the caller caused are routine; those of the service or its dependencies need attention.
const CALLER_FAULTS: ReadonlySet<string> = new Set(['VALIDATION', 'BAD_REQUEST', 'NOT_FOUND', 'CONFLICT', 'UNKNOWN_SERVICE', 'DECODE', 'TOO_LARGE']);

/** Logs each call once it ends: action, id, duration and outcome; INTERNAL errors with their stack. */
export function logging(options: LoggingOptions): AnyContextMiddleware {
  const { logger } = options;
  const level = options.level ?? 'debug';
  return (next) => async (ctx: CallContext, params) => {
    const started = performance.now();
    try {
      const result = await next(ctx as never, params);
      if (logger.isLevelEnabled(level)) logger[level]({ action: ctx.action, id: ctx.id, ms: elapsed(started) }, 'call ok');
      return result;
    } catch (thrown) {
      const error = CorreioError.from(thrown);
      const fields = { action: ctx.action, id: ctx.id, ms: elapsed(started), code: error.code, err: error.code === 'INTERNAL' ? (error.cause ?? error) : undefined };
      if (error.code === 'INTERNAL') logger.error(fields, `call failed: ${error.message}`);
      else if (CALLER_FAULTS.has(error.code)) logger.debug(fields, `call rejected: ${error.message}`);
      // Not ready yet (starting, catching up, no rank): expected while a cluster forms; the caller retries.
      else if (error.code === 'UNAVAILABLE') logger.info(fields, `call deferred: ${error.message}`);
      else logger.warn(fields, `call failed: ${error.message}`);
      throw error;
    }
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
