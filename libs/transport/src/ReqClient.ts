import { BadRequestError, CorreioError, MessageCodec, TimeoutError, UnavailableError } from '@correio/codec';
import { PROTOCOL_VERSION, type AnyEnvelope, type BodyOf, type Envelope, type MessageType } from '@correio/protocol';
import { backoffDelay, delay, type BackoffOptions } from './backoff.js';
import type { Frames } from './frames.js';
import { componentLogger, type Logger } from '@correio/observability';
import { ManagedSocket } from './ManagedSocket.js';
import { answers, declaredReplyType, UnexpectedReplyError } from './replyErrors.js';
import { nextRequestId } from './requestIds.js';
import type { RequestOptions } from './RequestClient.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';

export interface ReqClientOptions extends SocketOptions {
  /** The REP (or ROUTER) endpoint to connect to. */
  readonly endpoint: string;
  readonly stamp?: Stamp;
  readonly from?: string;
  /** Default timeout per attempt, ms. Default 5000. */
  readonly timeout?: number;
  /** Default retries (same id, fresh socket). Default 0. */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
}

export interface ReqClientStats {
  readonly sent: number;
  readonly replies: number;
  readonly timeouts: number;
  readonly retries: number;
  /** Sockets thrown away after a timeout (Lazy Pirate). */
  readonly socketsRecreated: number;
  /** Replies that were not a valid envelope or not for the request sent. */
  readonly malformedReplies: number;
  /** Replies of a type their request does not declare; each failed its request with UnexpectedReplyError. */
  readonly unexpectedReplies: number;
}

/**
 * A plain REQ client that speaks one envelope frame each way, the way any pyzmq REQ/REP program
 * does. REQ sockets are lockstep, so requests are sent one after another. On timeout the socket is
 * closed and a new one opened before retrying with the same id (ZeroMQ guide, "Lazy Pirate"): a REQ
 * socket that lost its reply is stuck forever otherwise.
 */
export class ReqClient {
  readonly #options: ReqClientOptions;
  readonly #codec: MessageCodec;
  readonly #stamp: Stamp;
  readonly #log: Logger;
  #socket: ManagedSocket | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #stats = { sent: 0, replies: 0, timeouts: 0, retries: 0, socketsRecreated: 0, malformedReplies: 0, unexpectedReplies: 0 };

  constructor(options: ReqClientOptions) {
    this.#options = options;
    this.#log = componentLogger('req.client', options.logger);
    this.#codec = new MessageCodec(options.limits ? { limits: options.limits } : {});
    this.#stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId('req'));
    this.#socket = this.#open();
  }

  get stats(): ReqClientStats {
    return { ...this.#stats };
  }

  /**
   * Sends one request and resolves with the reply envelope, whose type is the one `type` declares
   * (`x-correio-reply`). An `error` reply is thrown as its CorreioError; a reply of another type as
   * UnexpectedReplyError (not retried: the peer answered, wrongly).
   */
  request<T extends MessageType>(type: T, body: BodyOf<T>, options: Omit<RequestOptions, 'onPartial'> = {}): Promise<AnyEnvelope> {
    const run = this.#queue.then(() => this.#exchange(type, body, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    this.#socket = undefined;
    await socket?.close();
  }

  #open(): ManagedSocket {
    const socket = new ManagedSocket('req', { ...this.#options, logger: this.#log });
    socket.connect(this.#options.endpoint);
    return socket;
  }

  async #exchange<T extends MessageType>(type: T, body: BodyOf<T>, options: Omit<RequestOptions, 'onPartial'>): Promise<AnyEnvelope> {
    const id = options.id ?? nextRequestId();
    const timeout = options.timeout ?? this.#options.timeout ?? 5000;
    const retries = options.retries ?? this.#options.retries ?? 0;
    const replyType = declaredReplyType(type);
    for (let attempt = 0; ; attempt += 1) {
      if (this.#closed) throw new UnavailableError('the REQ client is closed');
      const socket = (this.#socket ??= this.#open());
      const { lc, ts } = this.#stamp.tick();
      const envelope: Envelope<T> = { v: PROTOCOL_VERSION, type, id, from: this.#stamp.from, lc, ts, body };
      await socket.send([this.#codec.encode(envelope)]);
      this.#stats.sent += 1;
      const frames = await this.#receiveWithin(socket, timeout, options.signal);
      let failure: CorreioError;
      if (frames === undefined && this.#closed) throw new UnavailableError('the REQ client was closed');
      if (frames === undefined) {
        failure = socket.connected
          ? new TimeoutError(`no reply within ${timeout} ms`, { data: { timeout } })
          : new UnavailableError(`no connection to ${this.#options.endpoint}`, { data: { endpoint: this.#options.endpoint } });
        this.#stats.timeouts += 1;
      } else {
        const reply = this.#decode(frames, id);
        if (reply !== undefined && !answers(replyType, reply.type, 'final')) {
          this.#stats.unexpectedReplies += 1;
          throw new UnexpectedReplyError(`${this.#options.endpoint} answered ${type} with ${reply.type}, not ${replyType}`, {
            data: { endpoint: this.#options.endpoint, id, expected: replyType, got: reply.type },
          });
        }
        if (reply !== undefined && reply.type !== 'error') {
          this.#stats.replies += 1;
          return reply;
        }
        if (reply !== undefined) {
          this.#stats.replies += 1;
          failure = CorreioError.fromWire(reply.body);
        } else {
          failure = new BadRequestError('the server sent a reply that is not a valid envelope for this request');
          await this.#discard(socket);
        }
      }
      if (options.signal?.aborted) throw options.signal.reason as Error;
      if (!failure.retryable || attempt >= retries) throw failure;
      this.#stats.retries += 1;
      await delay(backoffDelay(attempt + 1, options.backoff ?? this.#options.backoff), options.signal);
    }
  }

  /** The reply, or undefined when it timed out or was aborted; either way the stuck socket is discarded. */
  async #receiveWithin(socket: ManagedSocket, timeout: number, signal?: AbortSignal): Promise<Frames | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const discard = (): void => void this.#discard(socket);
    signal?.addEventListener('abort', discard, { once: true });
    try {
      timer = setTimeout(discard, timeout);
      return await socket.receive();
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', discard);
    }
  }

  async #discard(socket: ManagedSocket): Promise<void> {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    this.#stats.socketsRecreated += 1;
    await socket.close();
  }

  #decode(frames: Frames, id: string): AnyEnvelope | undefined {
    try {
      if (frames.length !== 1) throw new Error(`expected one frame, got ${frames.length}`);
      const reply = this.#codec.decode(frames[0]!);
      this.#stamp.observe(reply);
      if (reply.id !== id) throw new Error(`reply id ${reply.id} does not match request id ${id}`);
      return reply;
    } catch (error) {
      this.#stats.malformedReplies += 1;
      this.#log.warn({ err: error }, 'dropped a malformed reply');
      return undefined;
    }
  }
}
