import { CorreioError } from '@correio/codec';
import type { CallContext } from '../context.js';
import type { MetricsRecorder } from '../metrics/MetricsRecorder.js';
import type { AnyContextMiddleware } from './Middleware.js';

export interface MetricsMiddlewareOptions {
  readonly recorder: MetricsRecorder;
  /** `service` records service_calls_total / service_call_duration_seconds, `client` the client_* pair. */
  readonly side: 'service' | 'client';
  /** Labels added to every series, such as `{ service: 'greeter' }`. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** Counts calls by outcome (`OK` or the error code) and records their latency. */
export function metrics(options: MetricsMiddlewareOptions): AnyContextMiddleware {
  const { recorder, side } = options;
  const base = options.labels ?? {};
  const countName = side === 'service' ? 'service_calls_total' : 'client_calls_total';
  const durationName = side === 'service' ? 'service_call_duration_seconds' : 'client_call_duration_seconds';
  return (next) => async (ctx: CallContext, params) => {
    const started = process.hrtime.bigint();
    let outcome = 'OK';
    try {
      return await next(ctx as never, params);
    } catch (error) {
      outcome = CorreioError.from(error).code;
      throw error;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      recorder.increment(countName, { ...base, action: ctx.action, outcome });
      recorder.observe(durationName, { ...base, action: ctx.action }, seconds);
    }
  };
}
