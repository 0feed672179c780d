import { CorreioError, MessageCodec, OverloadedError, UnavailableError, UnknownServiceError, type ErrorCode } from '@correio/codec';
import { componentLogger, traceWrite, type Logger } from '@correio/observability';
import type { AnyEnvelope } from '@correio/protocol';
import { readableId } from './envelopeId.js';
import { ManagedSocket } from './ManagedSocket.js';
import { clientReply, isServiceName, parseClientMessage, type Framing } from './mdp.js';
import { RateLimitedWarning } from './RateLimitedWarning.js';
import { Responder, replyError, type RequestContext, type RequestHandler } from './Responder.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';
import type { TypedEvents } from './TypedEvents.js';

export interface ServiceEndpointOptions extends SocketOptions {
  /** The MDP service served; a REQUEST for any other is answered UNKNOWN_SERVICE unless `also` serves it. */
  readonly service: string;
  readonly handler: RequestHandler;
  /**
   * Other services served now, asked per request: a handler, or undefined to answer UNKNOWN_SERVICE
   * (a service served only for a while, such as the task coordinator's `tasks`).
   */
  readonly also?: (service: string) => RequestHandler | undefined;
  readonly stamp?: Stamp;
  readonly from?: string;
  /** Requests served at once per service; one more is answered OVERLOADED (retryable), never queued. Default 64. */
  readonly concurrency?: number;
  /** How long stop() waits for the requests in progress, ms. Default 5000. */
  readonly drainTimeout?: number;
}

export interface ServiceEndpointStats {
  /** Requests handed to the handler. */
  readonly requests: number;
  /** FINAL replies to those requests (reply type or `error`). */
  readonly replies: number;
  readonly partials: number;
  readonly handlerErrors: number;
  /** Requests whose reply path itself failed (contained and logged; the client times out). */
  readonly replyFailures: number;
  /** REQUESTs whose body is not a valid request envelope (answered with an `error` envelope). */
  readonly malformedRequests: number;
  readonly malformedByCode: Partial<Record<ErrorCode, number>>;
  /** Messages that are not an MDP/0.2 client REQUEST (dropped unanswered, as the broker does). */
  readonly malformedMessages: number;
  readonly unknownService: number;
  readonly overloadedRejections: number;
  readonly stoppingRejections: number;
  /** Requests being served now. */
  readonly inFlight: number;
}

/** A request being served: where its FINAL goes, and whether it has been answered already. */
interface InFlight {
  readonly peer: Buffer;
  readonly service: string;
  /** The request's framing, which its replies repeat (FRAMES.md §1.12). */
  readonly framing: Framing;
  readonly id: string;
  answered: boolean;
  task: Promise<void>;
}

/**
 * An MDP service (and, through `also`, others for a while) served straight from a bound ROUTER, without a broker: it speaks the client side
 * of MDP/0.2 exactly as the broker does (FRAMES.md §1.2, §1.4, §1.5), so a RequestClient pointed at
 * it works unchanged and a request skips the broker's two extra hops. Requests are served
 * concurrently, up to `concurrency`; every REQUEST gets one FINAL, anything else is dropped.
 */
export class ServiceEndpoint {
  readonly #socket: ManagedSocket;
  readonly #responder: Responder;
  readonly #service: string;
  readonly #handler: RequestHandler;
  readonly #also: ((service: string) => RequestHandler | undefined) | undefined;
  /** Requests in progress per service: each service has its own `concurrency`. */
  readonly #busy = new Map<string, number>();
  readonly #concurrency: number;
  readonly #drainTimeout: number;
  readonly #log: Logger;
  readonly #garbage: RateLimitedWarning;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<InFlight>();
  readonly #stats = {
    requests: 0, replies: 0, partials: 0, handlerErrors: 0, replyFailures: 0, malformedRequests: 0,
    malformedByCode: {} as Partial<Record<ErrorCode, number>>, malformedMessages: 0, unknownService: 0, overloadedRejections: 0, stoppingRejections: 0,
  };
  #serving: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  #stopping = false;

  constructor(options: ServiceEndpointOptions) {
    if (!isServiceName(options.service)) throw new RangeError(`invalid MDP service name ${JSON.stringify(options.service)}: 1–255 printable ASCII characters, no spaces`);
    const concurrency = options.concurrency ?? 64;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    const drainTimeout = options.drainTimeout ?? 5000;
    if (!(drainTimeout >= 0)) throw new RangeError('drainTimeout must be a non-negative number of ms');
    this.#log = componentLogger('service.endpoint', options.logger);
    this.#garbage = new RateLimitedWarning(this.#log, 'dropped a message that is not an MDP/0.2 client REQUEST');
    const stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId('endpoint'));
    this.#responder = new Responder(new MessageCodec(options.limits ? { limits: options.limits } : {}), stamp, this.#log);
    this.#service = options.service;
    this.#handler = options.handler;
    this.#also = options.also;
    this.#concurrency = concurrency;
    this.#drainTimeout = drainTimeout;
    // ManagedSocket sets maxMessageSize (from `limits` unless given): an oversized message disconnects its sender.
    this.#socket = new ManagedSocket('router', { ...options, logger: this.#log });
  }

  get events(): TypedEvents<SocketEventMap> {
    return this.#socket.events;
  }

  get stats(): ServiceEndpointStats {
    return { ...this.#stats, malformedByCode: { ...this.#stats.malformedByCode }, inFlight: this.#inFlight.size };
  }

  /** Binds and resolves with the actual endpoint. */
  bind(endpoint: string): Promise<string> {
    return this.#socket.bind(endpoint);
  }

  start(): this {
    this.#serving ??= this.#serve();
    return this;
  }

  /**
   * Refuses new requests (UNAVAILABLE, retryable), waits up to drainTimeout for those in progress,
   * then aborts their signals, answers them UNAVAILABLE and closes the socket. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    if (this.#inFlight.size > 0 && !(await this.#drained())) {
      this.#abort.abort(new UnavailableError('the service endpoint stopped before the request completed'));
      for (const request of [...this.#inFlight]) {
        // Their clients hear a retryable error now rather than time out; late replies are dropped.
        this.#finish(request);
        void this.#refuse(request.peer, request.service, request.framing, request.id, new UnavailableError('the service endpoint stopped before this request completed; retry with the same id'));
      }
    }
    await this.#socket.close({ flushTimeout: 500 });
    await this.#serving;
  }

  /** True when every request in progress finished within drainTimeout. */
  async #drained(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    // An infinite drainTimeout waits for ever (setTimeout would fire at once).
    const timedOut = new Promise<boolean>((resolve) => {
      if (Number.isFinite(this.#drainTimeout)) timer = setTimeout(resolve, this.#drainTimeout, false);
    });
    const all = Promise.all([...this.#inFlight].map((request) => request.task)).then(() => true);
    try {
      return await Promise.race([all, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #serve(): Promise<void> {
    try {
      for await (const frames of this.#socket) {
        try {
          // Immediate answers are awaited: a send queue that is full holds the loop back (bounded).
          await this.#onMessage(frames);
        } catch (error) {
          this.#stats.replyFailures += 1;
          this.#log.error({ err: error }, 'a message could not be handled');
        }
      }
    } catch (error) {
      if (!this.#socket.closed) this.#log.error({ err: error }, 'serve loop failed');
    }
  }

  /** `[routingId, "MDPC02", 0x01, service, envelope]` or packed: answered at once, or handed to the handler. */
  #onMessage(frames: Buffer[]): Promise<void> | undefined {
    const arrived = traceWrite && performance.now();
    const peer = frames[0]!;
    const message = parseClientMessage(frames.slice(1));
    if (message.kind !== 'request') {
      this.#stats.malformedMessages += 1;
      this.#garbage.note({ peer: peer.toString('hex'), reason: message.kind === 'malformed' ? message.reason : `${message.kind} sent by a client` });
      return undefined;
    }
    const { service, body, framing } = message;
    const handler = service === this.#service ? this.#handler : this.#also?.(service);
    const rejection = this.#rejection(service, handler);
    if (rejection || !handler) return this.#refuse(peer, service, framing, readableId(body[0]), rejection!);
    const decoded = this.#responder.decodeRequest(body);
    if (!decoded.ok) {
      this.#stats.malformedRequests += 1;
      this.#stats.malformedByCode[decoded.error.code] = (this.#stats.malformedByCode[decoded.error.code] ?? 0) + 1;
      return this.#refuse(peer, service, framing, decoded.id, decoded.error);
    }
    this.#stats.requests += 1;
    if (traceWrite) {
      // The hops a broker's worker traces (bench:trace): this endpoint serves in its place.
      traceWrite('worker.received', decoded.request.id, decoded.request.type, arrived);
      traceWrite('worker.decoded', decoded.request.id);
    }
    const request: InFlight = { peer, service, framing, id: decoded.request.id, answered: false, task: Promise.resolve() };
    this.#inFlight.add(request);
    this.#busy.set(service, (this.#busy.get(service) ?? 0) + 1);
    request.task = this.#handle(request, handler, decoded.request).catch((error: unknown) => {
      this.#finish(request);
      this.#stats.replyFailures += 1;
      this.#log.error({ err: error, id: request.id }, 'the reply path of a request failed');
    });
    return undefined;
  }

  /** Why a REQUEST for `service` is answered without being served (counted), or undefined. Cheap checks first: no decoding. */
  #rejection(service: string, handler: RequestHandler | undefined): CorreioError | undefined {
    if (handler === undefined) {
      this.#stats.unknownService += 1;
      return new UnknownServiceError(`this endpoint does not serve ${service} (it serves ${this.#service})`, { data: { service } });
    }
    if (this.#stopping) {
      this.#stats.stoppingRejections += 1;
      return new UnavailableError('the service endpoint is stopping; retry with the same id', { data: { reason: 'shutting-down' } });
    }
    if ((this.#busy.get(service) ?? 0) < this.#concurrency) return undefined;
    this.#stats.overloadedRejections += 1;
    return new OverloadedError(`${this.#concurrency} requests already in progress`, { data: { service, limit: this.#concurrency } });
  }

  async #handle(request: InFlight, handler: RequestHandler, envelope: AnyEnvelope): Promise<void> {
    const { service } = request;
    const context: RequestContext = {
      service,
      signal: this.#abort.signal,
      partial: async (partialBody: object) => {
        if (request.answered) throw new UnavailableError('this request has been answered already');
        const bytes = this.#responder.encodeReply(envelope, partialBody);
        this.#stats.partials += 1;
        await this.#socket.send([request.peer, ...clientReply('partial', service, [bytes], request.framing)]);
      },
    };
    let reply: Uint8Array;
    try {
      const replyBody = await handler(envelope, context);
      traceWrite?.('worker.handled', envelope.id);
      reply = this.#responder.reply(envelope, replyBody);
    } catch (error) {
      this.#stats.handlerErrors += 1;
      if (!(error instanceof CorreioError)) this.#log.error({ err: error, type: envelope.type }, 'handler failed');
      reply = this.#responder.error(envelope.id, replyError(error));
    }
    // Freed before the send: the client may see the FINAL and send again before the send settles.
    if (!this.#finish(request)) return;
    this.#stats.replies += 1;
    traceWrite?.('worker.replied', envelope.id);
    await this.#send(request.peer, service, request.framing, reply);
  }

  /** Marks a request answered and frees its slot; false when it was answered already (abandoned at stop). */
  #finish(request: InFlight): boolean {
    if (request.answered) return false;
    request.answered = true;
    this.#inFlight.delete(request);
    const busy = (this.#busy.get(request.service) ?? 1) - 1;
    if (busy === 0) this.#busy.delete(request.service);
    else this.#busy.set(request.service, busy);
    return true;
  }

  /** Answers a request with an error FINAL without serving it; a failure to build it is contained. */
  #refuse(peer: Buffer, service: string, framing: Framing, id: string, error: CorreioError): Promise<void> | undefined {
    try {
      return this.#send(peer, service, framing, this.#responder.error(id, error));
    } catch (failure) {
      this.#stats.replyFailures += 1;
      this.#log.error({ err: failure, code: error.code }, 'could not build an error reply');
      return undefined;
    }
  }

  /**
   * Queues a FINAL to `peer`. The ROUTER drops messages for peers that went away; a send refused
   * because the socket closed (or its queue is full under `whenSendQueueFull: 'reject'`) is dropped too.
   */
  #send(peer: Buffer, service: string, framing: Framing, envelope: Uint8Array): Promise<void> {
    return this.#socket.send([peer, ...clientReply('final', service, [envelope], framing)]).catch((error: unknown) => {
      this.#log.debug({ err: error }, 'dropped a reply the socket did not take');
    });
  }
}
