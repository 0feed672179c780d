import {
  BadRequestError,
  CorreioError,
  DecodeError,
  MessageCodec,
  OverloadedError,
  TimeoutError,
  UnavailableError,
} from '@correio/codec';
import { PROTOCOL_VERSION, type AnyEnvelope, type BodyOf, type Envelope, type MessageType } from '@correio/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { readableId, UNREADABLE_ID } from './envelopeId.js';
import type { Frame, Frames } from './frames.js';
import { componentLogger, type Logger } from '@correio/observability';
import { ManagedSocket, type SocketStats } from './ManagedSocket.js';
import { clientRequest, defaultFraming, parseClientMessage, type Framing } from './mdp.js';
import { PendingRequest, type WaitOutcome } from './PendingRequest.js';
import { declaredReplyType, MalformedReplyError, UnexpectedReplyError } from './replyErrors.js';
import { nextRequestId } from './requestIds.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';
import type { TypedEvents } from './TypedEvents.js';

/** Per-request options; each defaults to the client's. */
export interface RequestOptions {
  /** Ms without any reply (PARTIAL or FINAL) before an attempt fails. */
  readonly timeout?: number;
  /** Times to send the request again (same id) after a timeout or a retryable error reply. */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
  /** Aborts the request; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Receives each PARTIAL reply (streaming), in order, before the promise settles with the FINAL one. */
  readonly onPartial?: (reply: AnyEnvelope) => void;
  /** The request id; defaults to a fresh one. Reuse an id to retry at the application level. */
  readonly id?: string;
  /** The envelope's `auth` (protocol revision 1.1): the access token of the user the request acts for. */
  readonly auth?: string;
}

export interface RequestClientOptions extends SocketOptions {
  /** The broker endpoint(s) to connect to. */
  readonly endpoint: string | readonly string[];
  /** Stamps outgoing envelopes and observes incoming ones; defaults to a LamportStamp. */
  readonly stamp?: Stamp;
  /** Sender id for the default stamp. */
  readonly from?: string;
  /** Default per-attempt timeout, ms. Default 5000. */
  readonly timeout?: number;
  /** Default retries. Default 0. */
  readonly retries?: number;
  readonly backoff?: BackoffOptions;
  /**
   * Requests allowed in flight at once; more are refused with OverloadedError. A raw request counts
   * until its reply comes, even after it timed out (its slot keeps a late reply from the next caller). Default 10,000.
   */
  readonly maxInFlight?: number;
  /**
   * Fail the requests in flight at once, UnavailableError (retryable), when the connection drops,
   * instead of leaving them to their time-outs: for a client of one peer whose replies cannot come
   * after that, such as a server's direct link to another (FRAMES.md §1.11). Default false.
   */
  readonly failOnDisconnect?: boolean;
  /**
   * How REQUESTs are framed (protocol/FRAMES.md §1.12). Default `packed` (or `CORREIO_MDP_FRAMING`),
   * which brokers and server endpoints of revision 1.10 accept and answer in kind; `classic` for older
   * or other RFC 18 brokers.
   */
  readonly framing?: Framing;
}

export interface RequestClientStats {
  /** Request messages sent, retries included. */
  readonly sent: number;
  readonly retries: number;
  readonly replies: number;
  readonly partials: number;
  /** FINAL replies carrying an `error` envelope. */
  readonly errorReplies: number;
  readonly timeouts: number;
  /** Attempts that failed with no connection to the broker. */
  readonly unavailable: number;
  /**
   * Replies that are not valid MDP or not a valid envelope. One that can be matched to its request
   * fails it with MalformedReplyError; the others are dropped.
   */
  readonly malformedReplies: number;
  /** Replies of a type their request does not declare; each failed its request with UnexpectedReplyError. */
  readonly unexpectedReplies: number;
  /** Valid replies for no request in flight: late replies to completed requests (dropped). */
  readonly unmatchedReplies: number;
  /** Requests in flight: envelope requests, and raw ones until their replies come (see maxInFlight). */
  readonly inFlight: number;
  readonly socket: SocketStats;
}

interface RawPending {
  resolve: ((frames: Frames) => void) | undefined;
}

/**
 * MDP/0.2 client on one DEALER socket: many requests in flight, matched to their replies by
 * envelope id. Each request has a per-attempt timeout and optional retries with exponential
 * backoff that resend the *same* id, so services can deduplicate and a late reply to an earlier
 * attempt still completes the request. Failures are typed: TimeoutError (connected, no reply),
 * UnavailableError (no connection to the broker; a CURVE refusal names the handshake failure),
 * OverloadedError (too many in flight), and error replies rebuilt with CorreioError.fromWire.
 */
export class RequestClient {
  readonly #socket: ManagedSocket;
  readonly #codec: MessageCodec;
  readonly #stamp: Stamp;
  readonly #log: Logger;
  readonly #endpoints: readonly string[];
  readonly #timeout: number;
  readonly #retries: number;
  readonly #backoff: BackoffOptions;
  readonly #maxInFlight: number;
  readonly #framing: Framing;
  readonly #pending = new Map<string, PendingRequest>();
  /** Raw requests by service, FIFO; a timed-out one keeps its slot until its reply comes, so it cannot reach the next caller. */
  readonly #raw = new Map<string, RawPending[]>();
  /** Slots in #raw, live or timed out: they count against maxInFlight, so unanswered raw requests cannot pile up. */
  #rawSlots = 0;
  /**
   * FINALs still due per service: one per request message sent, less one per FINAL received. When
   * a reply carries no readable id, it can only be pinned on a request if it is the one FINAL due
   * from its service. Entries leave at zero; a lost connection loses the replies, so it clears them.
   */
  readonly #finalsDue = new Map<string, number>();
  readonly #stats = {
    sent: 0,
    retries: 0,
    replies: 0,
    partials: 0,
    errorReplies: 0,
    timeouts: 0,
    unavailable: 0,
    malformedReplies: 0,
    unexpectedReplies: 0,
    unmatchedReplies: 0,
  };
  #closed = false;
  readonly #receiving: Promise<void>;

  constructor(options: RequestClientOptions) {
    this.#log = componentLogger('mdp.client', options.logger);
    this.#codec = new MessageCodec(options.limits ? { limits: options.limits } : {});
    this.#stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId('client'));
    this.#timeout = options.timeout ?? 5000;
    this.#retries = options.retries ?? 0;
    this.#backoff = options.backoff ?? {};
    this.#maxInFlight = options.maxInFlight ?? 10_000;
    this.#framing = options.framing ?? defaultFraming();
    this.#endpoints = typeof options.endpoint === 'string' ? [options.endpoint] : [...options.endpoint];
    this.#socket = new ManagedSocket('dealer', { whenSendQueueFull: 'reject', ...options, logger: this.#log });
    for (const endpoint of this.#endpoints) this.#socket.connect(endpoint);
    // A broker that went away took the requests it held with it; forget their raw slots and due FINALs.
    const failOnDisconnect = options.failOnDisconnect ?? false;
    this.#socket.events.on('disconnected', () => {
      this.#clearRaw();
      this.#finalsDue.clear();
      if (failOnDisconnect) {
        const lost = new UnavailableError(`the connection to ${this.#endpoints.join(', ')} dropped with the request in flight; retry with the same id`, { data: { endpoints: [...this.#endpoints] } });
        for (const pending of this.#pending.values()) pending.fail(lost);
      }
    });
    this.#receiving = this.#receive();
  }

  /** Socket events: connected, disconnected, handshakeFailed, ... */
  get events(): TypedEvents<SocketEventMap> {
    return this.#socket.events;
  }

  /** True while the broker connection is up. */
  get connected(): boolean {
    return this.#socket.connected;
  }

  get stats(): RequestClientStats {
    return { ...this.#stats, inFlight: this.#pending.size + this.#rawSlots, socket: this.#socket.stats };
  }

  /**
   * Sends a request to `service` and resolves with the FINAL reply's envelope, whose type is the
   * one `type` declares (MESSAGE_INFO[type].reply). An `error` reply is thrown as the CorreioError
   * it carries; a reply of another type as UnexpectedReplyError; a reply that is not an envelope as
   * MalformedReplyError, at once, when it can be matched to this request (see #ownerOf). A body that
   * does not match its schema is refused before anything is sent (ValidationError).
   */
  async request<T extends MessageType>(service: string, type: T, body: BodyOf<T>, options: RequestOptions = {}): Promise<AnyEnvelope> {
    this.#checkCapacity();
    const replyType = declaredReplyType(type);
    const id = options.id ?? nextRequestId();
    if (this.#pending.has(id)) throw new BadRequestError(`request ${id} is already in flight`);
    const timeout = options.timeout ?? this.#timeout;
    const retries = options.retries ?? this.#retries;
    const backoff = options.backoff ?? this.#backoff;
    const pending = new PendingRequest(service, type, replyType, options.onPartial);
    this.#pending.set(id, pending);
    try {
      for (let attempt = 0; ; attempt += 1) {
        await this.#socket.send(clientRequest(service, [this.#encode(type, id, body, options.auth)], this.#framing));
        this.#stats.sent += 1;
        this.#finalsDue.set(service, (this.#finalsDue.get(service) ?? 0) + 1);
        const outcome = await pending.wait(timeout, options.signal);
        if (outcome.kind === 'failed') throw outcome.error;
        const failure = this.#failureOf(outcome, service, timeout);
        if (failure === undefined) return (outcome as { reply: AnyEnvelope }).reply;
        if (!failure.retryable || attempt >= retries) throw failure;
        this.#stats.retries += 1;
        // Sleep before resending, but a late reply to this attempt ends the sleep and the request.
        const early = await pending.wait(backoffDelay(attempt + 1, backoff), options.signal);
        if (early.kind === 'failed') throw early.error;
        if (early.kind === 'reply') {
          const lateFailure = this.#failureOf(early, service, timeout);
          if (lateFailure === undefined) return early.reply;
          if (!lateFailure.retryable) throw lateFailure;
        }
      }
    } finally {
      this.#pending.delete(id);
    }
  }

  /**
   * Sends raw frames to a service whose replies are not envelopes, such as the broker's
   * `mmi.service`, and resolves with the FINAL reply's body frames. Raw replies carry no id, so
   * they are matched first-in first-out per service: do not mix raw and envelope requests on one
   * service. No retries.
   */
  async requestRaw(service: string, body: readonly Frame[], options: Pick<RequestOptions, 'timeout' | 'signal'> = {}): Promise<Frames> {
    this.#checkCapacity();
    const timeout = options.timeout ?? this.#timeout;
    const frames = clientRequest(service, body, this.#framing);
    const slot: RawPending = { resolve: undefined };
    const reply = new Promise<Frames>((resolve) => (slot.resolve = resolve));
    let queue = this.#raw.get(service);
    if (!queue) this.#raw.set(service, (queue = []));
    queue.push(slot);
    this.#rawSlots += 1;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await this.#socket.send(frames);
      this.#stats.sent += 1;
      return await new Promise<Frames>((resolve, reject) => {
        timer = setTimeout(() => reject(this.#noReplyError(service, timeout)), timeout);
        onAbort = () => reject(options.signal!.reason as Error);
        if (options.signal?.aborted) onAbort();
        options.signal?.addEventListener('abort', onAbort, { once: true });
        reply.then(resolve, reject);
      });
    } finally {
      clearTimeout(timer);
      if (onAbort) options.signal?.removeEventListener('abort', onAbort);
      // The slot stays queued (emptied) so a late reply is swallowed instead of reaching the next caller.
      slot.resolve = undefined;
    }
  }

  /** Closes the socket; requests in flight reject with UnavailableError. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new UnavailableError('the request client was closed');
    for (const pending of this.#pending.values()) pending.fail(error);
    this.#clearRaw();
    await this.#socket.close();
    await this.#receiving;
  }

  #checkCapacity(): void {
    if (this.#closed) throw new UnavailableError('the request client is closed');
    if (this.#pending.size + this.#rawSlots >= this.#maxInFlight) {
      throw new OverloadedError(`${this.#maxInFlight} requests already in flight (raw ones included until their replies come)`);
    }
  }

  #clearRaw(): void {
    this.#raw.clear();
    this.#rawSlots = 0;
  }

  #encode<T extends MessageType>(type: T, id: string, body: BodyOf<T>, auth: string | undefined): Uint8Array {
    const { lc, ts } = this.#stamp.tick();
    const envelope: Envelope<T> = { v: PROTOCOL_VERSION, type, id, from: this.#stamp.from, lc, ts, body, ...(auth === undefined ? {} : { auth }) };
    return this.#codec.encode(envelope);
  }

  /** The error an attempt's outcome amounts to, or undefined when it is a successful reply. */
  #failureOf(outcome: Exclude<WaitOutcome, { kind: 'failed' }>, service: string, timeout: number): CorreioError | undefined {
    switch (outcome.kind) {
      case 'expired':
        return this.#noReplyError(service, timeout);
      case 'reply':
        if (outcome.reply.type !== 'error') return undefined;
        this.#stats.errorReplies += 1;
        return CorreioError.fromWire(outcome.reply.body);
    }
  }

  #noReplyError(service: string, timeout: number): CorreioError {
    if (this.#socket.connected) {
      this.#stats.timeouts += 1;
      return new TimeoutError(`no reply from service ${service} within ${timeout} ms`, { data: { service, timeout } });
    }
    this.#stats.unavailable += 1;
    const failure = this.#socket.lastHandshakeFailure;
    const why = failure
      ? `the handshake with ${failure.address} failed (${failure.reason}${failure.status ? ` ${failure.status}` : ''}: ${failure.message})`
      : `no connection to ${this.#endpoints.join(', ')}`;
    return new UnavailableError(`broker unreachable: ${why}`, {
      data: { service, endpoints: [...this.#endpoints], ...(failure ? { handshake: failure.reason } : {}) },
    });
  }

  async #receive(): Promise<void> {
    try {
      await this.#receiveLoop();
    } catch (error) {
      this.#log.error({ err: error }, 'receive loop failed');
    }
  }

  async #receiveLoop(): Promise<void> {
    for await (const frames of this.#socket) {
      const message = parseClientMessage(frames);
      if (message.kind === 'malformed' || message.kind === 'request') {
        this.#stats.malformedReplies += 1;
        this.#log.debug({ reason: message.kind === 'malformed' ? message.reason : 'a REQUEST sent to a client' }, 'dropped a malformed reply');
        continue;
      }
      const raw = this.#raw.get(message.service);
      if (raw && raw.length > 0) {
        if (message.kind === 'final') {
          raw.shift()!.resolve?.(message.body);
          this.#rawSlots -= 1;
          if (raw.length === 0) this.#raw.delete(message.service);
        }
        continue;
      }
      this.#deliver(message.kind, message.service, message.body);
    }
  }

  #deliver(kind: 'partial' | 'final', service: string, body: Frames): void {
    // Whether this is the one FINAL due from the service is decided before it is counted in.
    const due = this.#finalsDue.get(service) ?? 0;
    if (kind === 'final') this.#finalArrived(service);
    const sole = (): PendingRequest | undefined => (due === 1 ? this.#soleRequestTo(service) : undefined);
    let reply: AnyEnvelope;
    try {
      if (body.length !== 1) throw new DecodeError(`expected one body frame, got ${body.length}`);
      reply = this.#codec.decode(body[0]!);
    } catch (error) {
      this.#malformed(service, readableId(body[0]), sole, CorreioError.from(error));
      return;
    }
    this.#stamp.observe(reply);
    // An error with id "0" answers a request its sender could not read (FRAMES.md §1.4): ours if it is the only one due.
    const pending = this.#pending.get(reply.id) ?? (reply.id === UNREADABLE_ID && reply.type === 'error' ? sole() : undefined);
    if (!pending) {
      this.#stats.unmatchedReplies += 1;
      return;
    }
    if (!pending.accepts(reply.type, kind)) {
      this.#stats.unexpectedReplies += 1;
      const what = `service ${service} answered ${pending.type} with a ${kind === 'final' ? 'FINAL' : 'PARTIAL'} ${reply.type}, not ${pending.replyType}`;
      this.#log.debug({ id: reply.id, service, expected: pending.replyType, got: reply.type }, 'failed a request on a reply of the wrong type');
      pending.fail(new UnexpectedReplyError(what, { data: { service, id: reply.id, expected: pending.replyType, got: reply.type } }));
      return;
    }
    if (kind === 'final') {
      this.#stats.replies += 1;
      pending.deliver(reply);
      return;
    }
    this.#stats.partials += 1;
    pending.touch();
    try {
      pending.onPartial?.(reply);
    } catch (error) {
      this.#log.warn({ err: error, id: reply.id }, 'onPartial callback threw');
    }
  }

  /**
   * A reply that is not an envelope fails its request at once when it can be matched: by the id
   * its bytes still yield, or, when they yield none, because it is the one FINAL due from its
   * service. Otherwise it is dropped and the request runs into its time-out.
   */
  #malformed(service: string, id: string, sole: () => PendingRequest | undefined, error: CorreioError): void {
    this.#stats.malformedReplies += 1;
    const pending = id === UNREADABLE_ID ? sole() : this.#pending.get(id);
    this.#log.debug({ err: error, service, id, matched: pending !== undefined }, 'a reply that is not a valid envelope');
    pending?.fail(
      new MalformedReplyError(`the reply from service ${service} is not a valid envelope: ${error.message}`, {
        cause: error,
        data: { service, reason: error.code },
      }),
    );
  }

  /** The only request in flight to `service`, if there is exactly one. */
  #soleRequestTo(service: string): PendingRequest | undefined {
    let sole: PendingRequest | undefined;
    for (const pending of this.#pending.values()) {
      if (pending.service !== service) continue;
      if (sole !== undefined) return undefined;
      sole = pending;
    }
    return sole;
  }

  #finalArrived(service: string): void {
    const due = (this.#finalsDue.get(service) ?? 0) - 1;
    if (due > 0) this.#finalsDue.set(service, due);
    else this.#finalsDue.delete(service);
  }
}
