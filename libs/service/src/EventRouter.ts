import { CorreioError, NotFoundError } from '@correio/codec';
import type { Envelope } from '@correio/protocol';
import type { Logger } from 'pino';
import type { EventContext, EventDelivery, ServiceEvent } from './context.js';
import type { EventDefinition } from './definition.js';
import { compileCheck, type ValueCheck } from './middleware/validation.js';
import type { MetricsRecorder } from './metrics/MetricsRecorder.js';
import { assertEventName } from './names.js';

export interface EventRouterOptions {
  readonly service: string;
  readonly instance: string;
  readonly events: Readonly<Record<string, EventDefinition>>;
  readonly logger: Logger;
  readonly metrics: MetricsRecorder;
  /** Broadcasts of one event waiting for their handler; beyond it they are dropped (and counted). Default 1000. */
  readonly maxQueuedPerEvent?: number;
}

interface CompiledEvent {
  readonly handler: (ctx: EventContext, event: ServiceEvent) => unknown;
  readonly check: ValueCheck | undefined;
  /** Broadcasts of this event run one after another, in the order they arrived. */
  tail: Promise<void>;
  queued: number;
}

/**
 * Runs a service's event handlers: emitted events (one instance per group, through the broker; the
 * handler's failure goes back to the emitter) and broadcasts (every instance, through the proxy;
 * handled in arrival order per event, failures logged and counted since nobody waits for them).
 */
export class EventRouter {
  readonly #options: EventRouterOptions;
  readonly #events = new Map<string, CompiledEvent>();
  readonly #maxQueued: number;

  constructor(options: EventRouterOptions) {
    this.#options = options;
    this.#maxQueued = options.maxQueuedPerEvent ?? 1000;
    for (const [event, definition] of Object.entries(options.events)) {
      assertEventName(event);
      const check = definition.data === undefined ? undefined : compileCheck(definition.data, { owner: `event ${event}`, name: 'data', pointer: '/body/data' });
      this.#events.set(event, { handler: definition.handler.bind(definition) as CompiledEvent['handler'], check, tail: Promise.resolve(), queued: 0 });
    }
  }

  /** Event names handled, sorted. */
  get names(): string[] {
    return [...this.#events.keys()].sort();
  }

  /** Serves one service.emit.request; resolves with the reply body once the handler has run. */
  async handleEmit(request: Envelope<'service.emit.request'>, ctx: EventContext): Promise<object> {
    const { event, data, group, sender } = request.body;
    const compiled = this.#events.get(event);
    if (group !== this.#options.service) {
      throw new NotFoundError(`event ${event} was addressed to group ${group}, but this is ${this.#options.service}`, { data: { event, group } });
    }
    if (!compiled) throw new NotFoundError(`${this.#options.service} does not handle event ${event}`, { data: { event } });
    await this.#run(compiled, ctx, { name: event, data, sender, group, delivery: 'emit', id: request.id, lc: request.lc, ts: request.ts });
    return { instance: this.#options.instance };
  }

  /** Queues one broadcast for its handler; returns at once. Broadcasts addressed to another group are ignored. */
  handleBroadcast(envelope: Envelope<'service.event'>, ctx: EventContext): void {
    const { event, data, group, sender } = envelope.body;
    if (group !== undefined && group !== this.#options.service) return;
    const compiled = this.#events.get(event);
    if (!compiled) return;
    if (compiled.queued >= this.#maxQueued) {
      this.#count(event, 'broadcast', 'DROPPED');
      this.#options.logger.warn({ event, queued: compiled.queued }, 'broadcast dropped: too many waiting for the handler');
      return;
    }
    compiled.queued++;
    const incoming: ServiceEvent = { name: event, data, sender, group, delivery: 'broadcast', id: envelope.id, lc: envelope.lc, ts: envelope.ts };
    compiled.tail = compiled.tail.then(async () => {
      try {
        await this.#run(compiled, ctx, incoming);
      } catch {
        // counted and logged by #run; a broadcast has nobody to answer
      } finally {
        compiled.queued--;
      }
    });
  }

  /** Resolves when every queued broadcast has been handled. */
  async idle(): Promise<void> {
    await Promise.all([...this.#events.values()].map((compiled) => compiled.tail));
  }

  async #run(compiled: CompiledEvent, ctx: EventContext, event: ServiceEvent): Promise<void> {
    try {
      compiled.check?.(event.data);
      await compiled.handler(ctx, event);
      this.#count(event.name, event.delivery, 'OK');
    } catch (thrown) {
      const error = CorreioError.from(thrown);
      this.#count(event.name, event.delivery, error.code);
      this.#options.logger[error.code === 'INTERNAL' ? 'error' : 'warn'](
        { event: event.name, delivery: event.delivery, sender: event.sender, code: error.code, err: error.cause ?? error },
        `event handler failed: ${error.message}`,
      );
      throw error;
    }
  }

  #count(event: string, delivery: EventDelivery, outcome: string): void {
    this.#options.metrics.increment('service_events_total', { service: this.#options.service, event, delivery, outcome });
  }
}
