import { BadRequestError, NotFoundError } from '@correio/codec';
import type { Envelope } from '@correio/protocol';
import type { Logger } from 'pino';
import type { ActionContext, HandlerContext } from './context.js';
import type { ActionDefinition } from './definition.js';
import { toMillis } from './duration.js';
import { bulkhead, type BulkheadMiddleware, type BulkheadSnapshot } from './middleware/bulkhead.js';
import { deduplicate, type DeduplicateOptions } from './middleware/deduplicate.js';
import { logging } from './middleware/logging.js';
import { metrics } from './middleware/metrics.js';
import { compose, type Middleware, type Next } from './middleware/Middleware.js';
import { timeout } from './middleware/timeout.js';
import { compileCheck } from './middleware/validation.js';
import { applicationMeta, TIMEOUT_META } from './meta.js';
import type { MetricsRecorder } from './metrics/MetricsRecorder.js';
import { assertMethodName, splitAction } from './names.js';

export interface ActionTableOptions {
  readonly service: string;
  readonly actions: Readonly<Record<string, ActionDefinition>>;
  /** Default limit of one invocation, ms. */
  readonly timeoutMs: number;
  /** Service-wide middleware, around every action. */
  readonly middleware: readonly Middleware<ActionContext>[];
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
  /** Remember outcomes by caller and request id, so a retry is answered without running twice; false turns it off. */
  readonly deduplicate: DeduplicateOptions | false;
}

interface CompiledAction {
  readonly invoke: Next<ActionContext>;
  readonly bulkhead: BulkheadMiddleware | undefined;
}

/**
 * A service's actions, each compiled once into its middleware chain, outermost first: logging,
 * metrics, deduplication of retries, params validation (so invalid calls take no slot), the
 * service's middleware, the action's bulkhead, the timeout (the action's, cut short by the
 * caller's), the action's middleware, the handler.
 */
export class ActionTable {
  readonly #service: string;
  readonly #actions = new Map<string, CompiledAction>();

  constructor(options: ActionTableOptions) {
    this.#service = options.service;
    const serviceWide: Middleware<ActionContext>[] = [
      logging({ logger: options.logger }),
      metrics({ recorder: options.metrics, side: 'service', labels: { service: options.service } }),
      ...(options.deduplicate === false ? [] : [deduplicate(options.deduplicate)]),
    ];
    for (const [method, definition] of Object.entries(options.actions)) {
      const action = assertMethodName(options.service, method);
      const limit = definition.timeout === undefined ? options.timeoutMs : toMillis(definition.timeout, `${action} timeout`);
      const compartment = definition.bulkhead ? bulkhead({ name: action, ...definition.bulkhead }) : undefined;
      const check = definition.params === undefined ? undefined : compileCheck(definition.params, { owner: action, name: 'params', pointer: '/body/params' });
      const chain: Middleware<ActionContext>[] = [
        ...serviceWide,
        ...(check ? [validate(check)] : []),
        ...options.middleware,
        ...(compartment ? [compartment] : []),
        timeout((ctx) => {
          const deadline = (ctx as ActionContext).deadline;
          return deadline === undefined ? limit : Math.max(0, Math.min(limit, deadline - Date.now()));
        }),
        ...(definition.middleware ?? []),
      ];
      const handler = definition.handler.bind(definition);
      this.#actions.set(action, { invoke: compose(chain, async (ctx, params) => handler(ctx, params as never)), bulkhead: compartment });
    }
  }

  /** Full action names, sorted. */
  get names(): string[] {
    return [...this.#actions.keys()].sort();
  }

  bulkheads(): Record<string, BulkheadSnapshot> {
    const snapshots: Record<string, BulkheadSnapshot> = {};
    for (const [name, action] of this.#actions) if (action.bulkhead) snapshots[name] = action.bulkhead.snapshot();
    return snapshots;
  }

  /** Serves one service.call.request; resolves with the reply body. */
  async invoke(request: Envelope<'service.call.request'>, signal: AbortSignal, base: (signal: AbortSignal, parent: ParentCall) => HandlerContext): Promise<object> {
    const { action: name, params, meta } = request.body;
    const { service } = splitAction(name);
    if (service !== this.#service) {
      throw new BadRequestError(`${name} belongs to service ${service}, but this is ${this.#service}`, { data: { action: name } });
    }
    const action = this.#actions.get(name);
    if (!action) throw new NotFoundError(`${this.#service} has no action ${name}`, { data: { action: name, actions: this.names } });
    const callerTimeout = Number(meta?.[TIMEOUT_META]);
    const deadline = Number.isSafeInteger(callerTimeout) && callerTimeout > 0 ? Date.now() + callerTimeout : undefined;
    const appMeta = applicationMeta(meta);
    const ctx: ActionContext = {
      ...base(signal, { meta: appMeta, deadline }),
      action: name,
      id: request.id,
      meta: appMeta,
      signal,
      caller: request.from,
      lc: request.lc,
      ts: request.ts,
      deadline,
    };
    const result = await action.invoke(ctx, params);
    return result === undefined ? {} : { result };
  }
}

/** What a nested call inherits from the action that makes it. */
export interface ParentCall {
  readonly meta: Readonly<Record<string, string>>;
  readonly deadline: number | undefined;
}

function validate(check: (value: unknown) => void): Middleware<ActionContext> {
  return (next) => async (ctx, params) => {
    check(params);
    return next(ctx, params);
  };
}
