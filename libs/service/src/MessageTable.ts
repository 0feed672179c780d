import { BadRequestError } from '@correio/codec';
import type { AnyEnvelope, Envelope } from '@correio/protocol';
import type { Logger } from 'pino';
import type { ActionContext, HandlerContext, MessageContext } from './context.js';
import { toMillis } from './duration.js';
import { assertRequestType, type MessageDefinition, type RequestType } from './messages.js';
import { bulkhead, type BulkheadMiddleware, type BulkheadSnapshot } from './middleware/bulkhead.js';
import { deduplicate, type DeduplicateOptions } from './middleware/deduplicate.js';
import { logging } from './middleware/logging.js';
import { metrics } from './middleware/metrics.js';
import { compose, type Middleware, type Next } from './middleware/Middleware.js';
import { timeout } from './middleware/timeout.js';
import type { MetricsRecorder } from './metrics/MetricsRecorder.js';

export interface MessageTableOptions {
  readonly service: string;
  readonly messages: Readonly<Record<string, MessageDefinition>>;
  /** Default limit of one request, ms. */
  readonly timeoutMs: number;
  /** Service-wide middleware: the same as around actions (a MessageContext is an ActionContext). */
  readonly middleware: readonly Middleware<ActionContext>[];
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
  readonly deduplicate: DeduplicateOptions | false;
}

interface CompiledMessage {
  readonly invoke: Next<MessageContext>;
  readonly bulkhead: BulkheadMiddleware | undefined;
}

const NO_META: Readonly<Record<string, string>> = Object.freeze({});

/**
 * A service's typed protocol request handlers, each compiled once into the same chain as an action,
 * outermost first: logging, metrics, deduplication of retries, the service's middleware, the
 * handler's bulkhead, its timeout, its own middleware, the handler. The body needs no validation
 * here: the codec checked it against the request type's schema before it arrived.
 */
export class MessageTable {
  readonly #service: string;
  readonly #messages = new Map<string, CompiledMessage>();

  constructor(options: MessageTableOptions) {
    this.#service = options.service;
    // Built-in and service-wide middleware take an ActionContext; a MessageContext is one.
    const serviceWide = [
      logging({ logger: options.logger }),
      metrics({ recorder: options.metrics, side: 'service', labels: { service: options.service } }),
      ...(options.deduplicate === false ? [] : [deduplicate(options.deduplicate)]),
    ] as unknown as Middleware<MessageContext>[];
    const shared = options.middleware as unknown as readonly Middleware<MessageContext>[];
    for (const [type, definition] of Object.entries(options.messages)) {
      assertRequestType(type);
      const limit = definition.timeout === undefined ? options.timeoutMs : toMillis(definition.timeout, `${type} timeout`);
      const compartment = definition.bulkhead ? bulkhead({ name: type, ...definition.bulkhead }) : undefined;
      const chain: Middleware<MessageContext>[] = [
        ...serviceWide,
        ...shared,
        ...(compartment ? [compartment as unknown as Middleware<MessageContext>] : []),
        timeout(limit) as unknown as Middleware<MessageContext>,
        ...((definition.middleware ?? []) as readonly Middleware<MessageContext>[]),
      ];
      const handler = definition.handler.bind(definition);
      this.#messages.set(type, { invoke: compose(chain, async (ctx, body) => handler(ctx, body as never)), bulkhead: compartment });
    }
  }

  /** Request types handled, sorted. */
  get types(): string[] {
    return [...this.#messages.keys()].sort();
  }

  has(type: string): boolean {
    return this.#messages.has(type);
  }

  bulkheads(): Record<string, BulkheadSnapshot> {
    const snapshots: Record<string, BulkheadSnapshot> = {};
    for (const [type, message] of this.#messages) if (message.bulkhead) snapshots[type] = message.bulkhead.snapshot();
    return snapshots;
  }

  /** Serves one request that came through broker service `via`; resolves with the reply body. */
  async invoke(request: AnyEnvelope, via: string, signal: AbortSignal, base: (signal: AbortSignal) => HandlerContext): Promise<object> {
    const message = this.#messages.get(request.type);
    if (!message) {
      throw new BadRequestError(`${via} does not serve ${request.type}; it serves ${this.types.join(', ') || 'no message types'}`, {
        data: { type: request.type, service: this.#service },
      });
    }
    const ctx: MessageContext = {
      ...base(signal),
      action: request.type,
      type: request.type as RequestType,
      via,
      envelope: request as Envelope<RequestType>,
      id: request.id,
      meta: NO_META,
      signal,
      caller: request.from,
      lc: request.lc,
      ts: request.ts,
      deadline: undefined,
    };
    return (await message.invoke(ctx, request.body)) as object;
  }
}
