import { BadRequestError, CorreioError, InternalError, MessageCodec, UnavailableError, type ErrorCode } from '@correio/codec';
import { delay } from './backoff.js';
import { componentLogger, type Logger } from '@correio/observability';
import { ManagedSocket } from './ManagedSocket.js';
import { Responder, UNKNOWN_REQUEST_ID, replyError, type RequestContext, type RequestHandler } from './Responder.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';
import type { TypedEvents } from './TypedEvents.js';

export interface RepServerOptions extends SocketOptions {
  readonly handler: RequestHandler;
  readonly stamp?: Stamp;
  readonly from?: string;
  /** How long stop() waits for the request in progress, ms. Default 5000. */
  readonly drainTimeout?: number;
}

export interface RepServerStats {
  readonly requests: number;
  readonly replies: number;
  readonly handlerErrors: number;
  /** Requests whose reply could not be built (contained: answered with a plain INTERNAL error, logged). */
  readonly replyFailures: number;
  readonly malformedRequests: number;
  readonly malformedByCode: Partial<Record<ErrorCode, number>>;
}

/**
 * A plain REP server: one envelope frame in, one envelope frame out, so any pyzmq REQ program can
 * talk to it. Requests are served one at a time (REP is lockstep); every request gets exactly one
 * reply, an `error` envelope when it is malformed or the handler throws.
 */
export class RepServer {
  readonly #socket: ManagedSocket;
  readonly #responder: Responder;
  readonly #lastResort: Uint8Array;
  readonly #handler: RequestHandler;
  readonly #drainTimeout: number;
  readonly #log: Logger;
  readonly #stats = { requests: 0, replies: 0, handlerErrors: 0, replyFailures: 0, malformedRequests: 0, malformedByCode: {} as Partial<Record<ErrorCode, number>> };
  #serving: Promise<void> | undefined;
  #handling: Promise<void> | undefined;
  #stopping = false;
  readonly #abort = new AbortController();

  constructor(options: RepServerOptions) {
    this.#log = componentLogger('rep.server', options.logger);
    const stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId('rep'));
    const codec = new MessageCodec(options.limits ? { limits: options.limits } : {});
    this.#responder = new Responder(codec, stamp, this.#log);
    // Built now, from nothing a request or a failing stamp can touch: REP is lockstep, so even a
    // request whose reply path fails must be answered, or the socket would wait forever.
    const failure = new InternalError('the server failed while answering this request', { retryable: false });
    this.#lastResort = codec.encode({ v: 1, type: 'error', id: UNKNOWN_REQUEST_ID, from: stamp.from, lc: 0, ts: Date.now(), body: failure.toWire() });
    this.#handler = options.handler;
    this.#drainTimeout = options.drainTimeout ?? 5000;
    this.#socket = new ManagedSocket('rep', { ...options, logger: this.#log });
  }

  get events(): TypedEvents<SocketEventMap> {
    return this.#socket.events;
  }

  get stats(): RepServerStats {
    return { ...this.#stats, malformedByCode: { ...this.#stats.malformedByCode } };
  }

  /** Binds and resolves with the actual endpoint. */
  bind(endpoint: string): Promise<string> {
    return this.#socket.bind(endpoint);
  }

  connect(endpoint: string): void {
    this.#socket.connect(endpoint);
  }

  /** Starts serving. */
  start(): this {
    this.#serving ??= this.#serve();
    return this;
  }

  /** Lets the request in progress finish (up to drainTimeout), then closes the socket. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const handling = this.#handling;
    if (handling && !(await Promise.race([handling.then(() => true), delay(this.#drainTimeout).then(() => false)]))) {
      this.#abort.abort(new UnavailableError('the server stopped before the request completed'));
    }
    await this.#socket.close({ flushTimeout: 500 });
    await this.#serving;
  }

  async #serve(): Promise<void> {
    try {
      for await (const frames of this.#socket) {
        const handling = this.#answerContained(frames).then((reply) => this.#socket.send([reply]));
        this.#handling = handling;
        await handling;
        this.#handling = undefined;
        if (this.#stopping) break;
      }
    } catch (error) {
      if (!this.#socket.closed) this.#log.error({ err: error }, 'serve loop failed');
    }
  }

  /** The reply to `frames`, whatever fails on the way: REP is lockstep, so every request must get one. */
  async #answerContained(frames: Buffer[]): Promise<Uint8Array> {
    try {
      return await this.#answer(frames);
    } catch (error) {
      this.#stats.replyFailures += 1;
      this.#log.error({ err: error }, 'the reply path of a request failed; answering INTERNAL');
      return this.#lastResort;
    }
  }

  async #answer(frames: Buffer[]): Promise<Uint8Array> {
    const decoded = this.#responder.decodeRequest(frames);
    if (!decoded.ok) {
      this.#stats.malformedRequests += 1;
      this.#stats.malformedByCode[decoded.error.code] = (this.#stats.malformedByCode[decoded.error.code] ?? 0) + 1;
      return this.#responder.error(decoded.id, decoded.error);
    }
    this.#stats.requests += 1;
    const context: RequestContext = {
      signal: this.#abort.signal,
      partial: () => Promise.reject(new BadRequestError('a REP server cannot send partial replies')),
    };
    let reply: Uint8Array;
    try {
      reply = this.#responder.reply(decoded.request, await this.#handler(decoded.request, context));
    } catch (error) {
      this.#stats.handlerErrors += 1;
      if (!(error instanceof CorreioError)) this.#log.error({ err: error, type: decoded.request.type }, 'handler failed');
      reply = this.#responder.error(decoded.request.id, replyError(error));
    }
    this.#stats.replies += 1;
    return reply;
  }
}
