import { CorreioError, OverloadedError, UnavailableError, type ErrorCode } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { backoffDelay, delay, type BackoffOptions } from './backoff.js';
import type { Frame, Frames } from './frames.js';
import { traceWrite, type Logger } from '@correio/observability';
import { ManagedSocket } from './ManagedSocket.js';
import { isSocketLimitError } from './socketLimit.js';
import { parseWorkerMessage, workerDisconnect, workerHeartbeat, workerReady, workerReply, type Framing } from './mdp.js';
import { replyError, type RequestContext, type RequestHandler, type Responder } from './Responder.js';
import type { SocketEventMap } from './socketEvents.js';
import type { SocketOptions } from './SocketOptions.js';
import { LazyAbort } from './LazyAbort.js';
import type { TypedEvents } from './TypedEvents.js';

/** Worker events: those of every connection's socket, plus reconnections. */
export interface WorkerEventMap extends SocketEventMap {
  /** A connection gave up on its broker session and will open a new one after `delay` ms. */
  reconnecting: { readonly connection: number; readonly reason: string; readonly delay: number };
  /** A connection sent READY. */
  ready: { readonly connection: number };
  /** A request or broker message failed on its reply path; contained (counted in replyFailures, logged). */
  replyFailed: { readonly connection: number; readonly error: unknown };
}

/** Counters shared by the connections of one worker. */
export interface WorkerCounters {
  requests: number;
  replies: number;
  partials: number;
  /** Handlers that threw; the client got the error. */
  handlerErrors: number;
  /** Requests whose reply path itself failed (an error reply that could not be built or sent): contained, logged. */
  replyFailures: number;
  /** Requests that could not be decoded or validated; the client got an error reply. */
  malformedRequests: number;
  /** malformedRequests by the error code replied. */
  malformedByCode: Partial<Record<ErrorCode, number>>;
  /** Requests refused with OVERLOADED because the broker sent one to a busy connection. */
  busyRejections: number;
  /** Requests refused with UNAVAILABLE because the worker was stopping. */
  stoppingRejections: number;
  /** Replies not sent because the broker session they belonged to had ended. */
  repliesDropped: number;
  /** Messages from the broker that are not valid MDP (dropped). */
  malformedMessages: number;
  heartbeatsSent: number;
  /** Broker sessions declared dead after `liveness` silent heartbeat intervals. */
  brokerExpiries: number;
  /** DISCONNECT commands received from the broker. */
  disconnectsReceived: number;
  reconnects: number;
  /** Worker connections ZeroMQ could not open (its socket limit, the process's file limit), each retried after the backoff. */
  openFailures: number;
  /** Handlers still running when the drain timeout of stop() expired. */
  abandoned: number;
}

export interface WorkerConnectionSettings {
  readonly endpoint: string;
  readonly service: string;
  /** How this connection's own commands are framed (READY, HEARTBEAT, DISCONNECT). */
  readonly framing: Framing;
  readonly handler: RequestHandler;
  readonly responder: Responder;
  readonly heartbeatInterval: number;
  readonly liveness: number;
  readonly reconnectBackoff: BackoffOptions;
  readonly socketOptions: SocketOptions;
  readonly counters: WorkerCounters;
  readonly events: TypedEvents<WorkerEventMap>;
  readonly log: Logger;
}

/** A REQUEST from the broker: where its reply goes, and in which framing. */
interface BrokerRequest {
  readonly client: Buffer;
  readonly body: Frames;
  readonly framing: Framing;
}

/** A request being served: its abort switch and the promise of its completion. */
interface InFlight {
  readonly abort: LazyAbort;
  done: Promise<void>;
}

const SOCKET_EVENTS: readonly (keyof SocketEventMap)[] = ['connected', 'disconnected', 'handshakeFailed', 'listening', 'accepted', 'connectRetried'];

/**
 * One MDP worker session over one DEALER socket, serving one request at a time (RFC 18,
 * protocol/FRAMES.md §1.3, §1.6). It sends READY, heartbeats every interval in which it sent
 * nothing else (busy or not), and declares the broker dead after `liveness` intervals without
 * any message from it; then, or on DISCONNECT, it closes the socket and opens a fresh one (new
 * identity, READY again) after a backoff that starts at one heartbeat interval.
 */
export class WorkerConnection {
  readonly index: number;
  readonly #settings: WorkerConnectionSettings;
  #socket: ManagedSocket | undefined;
  #generation = 0;
  #liveness = 0;
  #sentSinceTick = false;
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  /** The request being served; cleared the moment its FINAL is handed to the socket. */
  #busy: InFlight | undefined;
  #stopping = false;
  #reconnecting = false;

  constructor(index: number, settings: WorkerConnectionSettings) {
    this.index = index;
    this.#settings = settings;
  }

  get busy(): boolean {
    return this.#busy !== undefined;
  }

  start(): void {
    this.#open();
  }

  /**
   * Stops this session: waits for the request in progress until `deadline` (epoch ms), then sends
   * DISCONNECT and closes. A handler still running at the deadline is aborted and its reply dropped.
   */
  async stop(deadline: number): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#timer);
    clearTimeout(this.#reopenTimer);
    const inFlight = this.#busy;
    if (inFlight) {
      const drained = await Promise.race([inFlight.done.then(() => true), delay(Math.max(0, deadline - Date.now())).then(() => false)]);
      if (!drained) {
        this.#settings.counters.abandoned += 1;
        inFlight.abort.abort(new UnavailableError('the worker stopped before the request completed'));
      }
    }
    const socket = this.#socket;
    this.#socket = undefined;
    this.#generation += 1;
    if (!socket) return;
    if (!this.#reconnecting) await socket.send(workerDisconnect(this.#settings.framing)).catch(() => undefined);
    await socket.close({ flushTimeout: Math.max(100, deadline - Date.now()) });
  }

  /** `retrying`: from the reopen timer, where nothing may throw; at start only an unusable endpoint does, to its caller. */
  #open(retrying = false): void {
    const { endpoint, service, socketOptions, events, heartbeatInterval, liveness } = this.#settings;
    let socket: ManagedSocket | undefined;
    try {
      socket = new ManagedSocket('dealer', { ...socketOptions, whenSendQueueFull: 'wait' });
      socket.connect(endpoint);
    } catch (error) {
      void socket?.close();
      const atLimit = isSocketLimitError(error);
      if (!retrying && !atLimit) throw error;
      // A socket ZeroMQ cannot open now (its socket limit, the process's file limit) must not end
      // the process: the connection tries again after the backoff.
      this.#settings.counters.openFailures += 1;
      this.#failures += 1;
      const hint = atLimit ? ': the process is at its socket or file limit; lower the worker concurrency or raise the limit' : '';
      this.#settings.log.error({ err: error, connection: this.index }, `cannot open a worker connection${hint}`);
      this.#retryOpen(`the socket could not be opened${hint}`);
      return;
    }
    for (const type of SOCKET_EVENTS) socket.events.on(type, (event) => events.emit(type, event as never));
    this.#socket = socket;
    const generation = this.#generation;
    this.#liveness = liveness;
    this.#send(socket, workerReady(service, this.#settings.framing));
    events.emit('ready', { connection: this.index });
    this.#timer = setInterval(() => this.#tick(socket, generation), heartbeatInterval);
    void this.#receive(socket, generation);
  }

  #send(socket: ManagedSocket, frames: Frame[]): Promise<void> {
    this.#sentSinceTick = true;
    return socket.send(frames).catch((error: unknown) => {
      if (!socket.closed) this.#settings.log.warn({ err: error, connection: this.index }, 'send failed');
    });
  }

  #tick(socket: ManagedSocket, generation: number): void {
    if (generation !== this.#generation || this.#stopping) return;
    // FRAMES.md §1.6: the broker heartbeats every worker, busy or not, so silence always counts.
    this.#liveness -= 1;
    if (this.#liveness <= 0) {
      this.#settings.counters.brokerExpiries += 1;
      this.#reconnect(`no message from the broker for ${this.#settings.liveness} heartbeat intervals`);
      return;
    }
    // Heartbeat even while busy, so a long request does not make this worker look dead.
    if (!this.#sentSinceTick) {
      this.#settings.counters.heartbeatsSent += 1;
      void this.#send(socket, workerHeartbeat(this.#settings.framing));
    }
    this.#sentSinceTick = false;
  }

  #reconnect(reason: string): void {
    if (this.#stopping || this.#reconnecting) return;
    this.#reconnecting = true;
    clearInterval(this.#timer);
    this.#generation += 1;
    this.#failures += 1;
    this.#settings.counters.reconnects += 1;
    // The broker session is gone: a handler still running cannot deliver its reply through it.
    // It is told to stop, and the new session starts idle rather than waiting for it.
    this.#busy?.abort.abort(new UnavailableError(`the broker session ended: ${reason}`));
    this.#busy = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    void socket?.close();
    this.#retryOpen(reason);
  }

  /** Opens a new session after the backoff; `#reconnecting` holds until then. */
  #retryOpen(reason: string): void {
    this.#reconnecting = true;
    const wait = backoffDelay(this.#failures, this.#settings.reconnectBackoff);
    this.#settings.log.info({ connection: this.index, reason, delay: wait }, 'reconnecting to the broker');
    this.#settings.events.emit('reconnecting', { connection: this.index, reason, delay: wait });
    this.#reopenTimer = setTimeout(() => {
      this.#reconnecting = false;
      if (!this.#stopping) this.#open(true);
    }, wait);
  }

  async #receive(socket: ManagedSocket, generation: number): Promise<void> {
    try {
      for await (const frames of socket) {
        if (generation !== this.#generation) break;
        try {
          this.#onMessage(socket, generation, frames);
        } catch (error) {
          // No message may end this loop (and with it the session): count it, log it, read the next.
          this.#contain(error, 'a message from the broker could not be handled');
        }
      }
    } catch (error) {
      if (!socket.closed) this.#settings.log.error({ err: error, connection: this.index }, 'receive loop failed');
    }
  }

  #onMessage(socket: ManagedSocket, generation: number, frames: Frames): void {
    const { counters, log } = this.#settings;
    const message = parseWorkerMessage(frames);
    if (message.kind === 'malformed' || message.kind === 'ready' || message.kind === 'partial' || message.kind === 'final') {
      counters.malformedMessages += 1;
      log.debug({ connection: this.index, reason: message.kind === 'malformed' ? message.reason : `${message.kind} sent to a worker` }, 'dropped a malformed message');
      return;
    }
    this.#liveness = this.#settings.liveness;
    this.#failures = 0;
    if (message.kind === 'heartbeat') return;
    if (message.kind === 'disconnect') {
      counters.disconnectsReceived += 1;
      this.#reconnect('the broker sent DISCONNECT');
      return;
    }
    if (this.#stopping) {
      counters.stoppingRejections += 1;
      this.#refuse(socket, message, new UnavailableError('the worker is stopping; retry with the same id'));
      return;
    }
    if (this.#busy) {
      counters.busyRejections += 1;
      this.#refuse(socket, message, new OverloadedError('the broker sent a request to a busy worker connection'));
      return;
    }
    const inFlight: InFlight = { abort: new LazyAbort(), done: Promise.resolve() };
    this.#busy = inFlight;
    inFlight.done = this.#serve(socket, generation, inFlight, message).catch((error: unknown) => {
      // Whatever failed on the way to the reply (an error reply that cannot be built, a clock that
      // cannot stamp it), the process keeps serving: counted, logged, the connection idle again.
      // The client hears nothing; its timeout and retry (same id) cover that.
      this.#contain(error, 'the reply path of a request failed');
      this.#idle(inFlight);
    });
  }

  /**
   * Marks the connection idle. This must happen *before* the FINAL is handed to the socket:
   * zeromq.js may resolve a pending receive inside that very send, so the broker's next request
   * can be processed before any code after the send runs.
   */
  #idle(inFlight: InFlight): void {
    if (this.#busy === inFlight) this.#busy = undefined;
  }

  /** Answers a request without serving it. */
  #refuse(socket: ManagedSocket, request: BrokerRequest, error: CorreioError): void {
    const decoded = this.#settings.responder.decodeRequest(request.body);
    const id = decoded.ok ? decoded.request.id : decoded.id;
    void this.#send(socket, workerReply('final', request.client, [this.#settings.responder.error(id, error)], request.framing));
  }

  async #serve(socket: ManagedSocket, generation: number, inFlight: InFlight, { client, body, framing }: BrokerRequest): Promise<void> {
    const { responder, counters, handler, service, log } = this.#settings;
    const arrived = traceWrite && performance.now();
    const decoded = responder.decodeRequest(body);
    if (!decoded.ok) {
      counters.malformedRequests += 1;
      counters.malformedByCode[decoded.error.code] = (counters.malformedByCode[decoded.error.code] ?? 0) + 1;
      log.debug({ err: decoded.error, connection: this.index }, 'refused a malformed request');
      this.#idle(inFlight);
      await this.#send(socket, workerReply('final', client, [responder.error(decoded.id, decoded.error)], framing));
      return;
    }
    counters.requests += 1;
    const request = decoded.request;
    if (traceWrite) {
      traceWrite('worker.received', request.id, request.type, arrived);
      traceWrite('worker.decoded', request.id);
    }
    const abort = inFlight.abort;
    const context: RequestContext = {
      service,
      get signal() {
        return abort.signal;
      },
      partial: async (partialBody: object) => {
        if (generation !== this.#generation) throw new UnavailableError('the broker session of this request has ended');
        const bytes = responder.encodeReply(request, partialBody);
        counters.partials += 1;
        await this.#send(socket, workerReply('partial', client, [bytes], framing));
      },
    };
    let reply: Uint8Array;
    try {
      const replyBody = await handler(request, context);
      traceWrite?.('worker.handled', request.id);
      reply = responder.reply(request, replyBody);
    } catch (error) {
      reply = this.#errorReply(request, error);
    }
    if (generation !== this.#generation) {
      counters.repliesDropped += 1;
      return;
    }
    counters.replies += 1;
    this.#idle(inFlight);
    traceWrite?.('worker.replied', request.id);
    await this.#send(socket, workerReply('final', client, [reply], framing));
  }

  #contain(error: unknown, what: string): void {
    this.#settings.counters.replyFailures += 1;
    this.#settings.log.error({ err: error, connection: this.index }, what);
    this.#settings.events.emit('replyFailed', { connection: this.index, error });
  }

  #errorReply(request: AnyEnvelope, error: unknown): Uint8Array {
    const failure = replyError(error);
    this.#settings.counters.handlerErrors += 1;
    if (!(error instanceof CorreioError)) this.#settings.log.error({ err: error, type: request.type, id: request.id }, 'handler failed');
    return this.#settings.responder.error(request.id, failure);
  }
}
