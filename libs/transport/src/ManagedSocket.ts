import { OverloadedError, UnavailableError } from '@correio/codec';
import * as zmq from 'zeromq';
// Before any socket: raises the default context's socket limit.
import './socketLimit.js';
import { curveSocketOptions } from './curve.js';
import { retryInterrupted, startMonitor } from './interrupted.js';
import { Fifo } from './Fifo.js';
import type { Frame, Frames } from './frames.js';
import { componentLogger, endpointProblem, type Logger } from '@correio/observability';
import { translateSocketEvent, type HandshakeFailure, type SocketEventMap } from './socketEvents.js';
import { defaultMaxMessageSize, SOCKET_DEFAULTS, type SocketOptions, type WhenSendQueueFull } from './SocketOptions.js';
import { TypedEvents } from './TypedEvents.js';

/** The ZeroMQ socket types the transport opens. */
export type SocketKind = 'dealer' | 'router' | 'req' | 'rep' | 'pub' | 'sub' | 'xpub' | 'xsub' | 'push' | 'pull' | 'pair';

const SOCKET_CLASSES = {
  dealer: zmq.Dealer,
  router: zmq.Router,
  req: zmq.Request,
  rep: zmq.Reply,
  pub: zmq.Publisher,
  sub: zmq.Subscriber,
  xpub: zmq.XPublisher,
  xsub: zmq.XSubscriber,
  push: zmq.Push,
  pull: zmq.Pull,
  pair: zmq.Pair,
} as const;

const RECEIVE_ONLY: ReadonlySet<SocketKind> = new Set(['sub', 'pull']);
const SEND_ONLY: ReadonlySet<SocketKind> = new Set(['pub', 'push']);

/** Counters of one socket. `queued` is the current depth of the send queue; the rest only grow. */
export interface SocketStats {
  /** Messages handed to ZeroMQ. */
  readonly sent: number;
  readonly received: number;
  /** Messages waiting in the send queue now. */
  readonly queued: number;
  /** Sends refused with OverloadedError because the queue was full. */
  readonly rejected: number;
  /** Queued messages discarded because the socket closed before ZeroMQ could take them. */
  readonly dropped: number;
  /** Messages ZeroMQ refused (logged). */
  readonly sendErrors: number;
}

/** Turns the head of the send queue into the frames of one ZeroMQ message (batching hook). */
export type FrameBuilder<T> = (queue: Fifo<T>) => Frame[];

interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface NativeSocket {
  readonly closed: boolean;
  readonly events: zmq.Observer;
  bindSync(address: string): void;
  unbind(address: string): Promise<void>;
  connect(address: string): void;
  disconnect(address: string): void;
  close(): void;
  readonly lastEndpoint: string | null;
  send?(message: Frame[]): Promise<void>;
  receive?(): Promise<Buffer[]>;
  subscribe?(...topics: string[]): void;
  unsubscribe?(...topics: string[]): void;
}

const RESOLVED: Promise<void> = Promise.resolve();
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A ZeroMQ socket with the hygiene every Correio component needs:
 *
 * - a bounded send queue in front of ZeroMQ, so there is never more than one send pending on the
 *   native socket and EBUSY cannot surface. `send` resolves once the message is *accepted* into
 *   that queue (not when it is on the wire); when the queue is full it rejects with
 *   OverloadedError or waits for room, as `whenSendQueueFull` says. `flush` waits until ZeroMQ
 *   has taken everything;
 * - a receive loop as an async iterator that simply ends when the socket closes;
 * - `linger`, high-water marks, `maxMessageSize` (from the codec limits), reconnect intervals and
 *   CURVE set before the first bind or connect;
 * - ZeroMQ monitor events surfaced as typed events (`connected`, `disconnected`,
 *   `handshakeFailed`, ...), and a `connected` flag derived from them;
 * - counters for everything sent, received, refused and dropped.
 *
 * The type parameter is what the queue holds; plain sockets queue frames, the publisher queues
 * publications and batches them in its FrameBuilder.
 */
export class ManagedSocket<T = Frame[]> {
  readonly kind: SocketKind;
  readonly events = new TypedEvents<SocketEventMap>();
  readonly #native: NativeSocket;
  readonly #log: Logger;
  readonly #capacity: number;
  readonly #whenFull: WhenSendQueueFull;
  readonly #buildFrames: FrameBuilder<T>;
  readonly #queue = new Fifo<T>();
  readonly #waiters = new Fifo<Waiter<T>>();
  #flushWaiters: (() => void)[] = [];
  #sending = false;
  #closed = false;
  #receiving = false;
  /** Receives handed to zeromq.js and not settled yet. */
  #receivesPending = 0;
  /** An unbind under way: zeromq.js refuses every other call (EBUSY) until it settles. */
  #unbinding: Promise<unknown> | undefined;
  #inproc = 0;
  readonly #peers = new Map<string, number>();
  #peerCount = 0;
  #lastHandshakeFailure: HandshakeFailure | undefined;
  readonly #stats = { sent: 0, received: 0, rejected: 0, dropped: 0, sendErrors: 0 };

  constructor(kind: SocketKind, options: SocketOptions = {}, buildFrames?: FrameBuilder<T>) {
    this.kind = kind;
    this.#log = componentLogger(`socket.${kind}`, options.logger);
    this.#capacity = options.sendQueueCapacity ?? SOCKET_DEFAULTS.sendQueueCapacity;
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < 1) throw new RangeError('sendQueueCapacity must be a positive integer');
    this.#whenFull = options.whenSendQueueFull ?? 'wait';
    this.#buildFrames = buildFrames ?? ((queue) => queue.shift() as Frame[]);
    const Class = SOCKET_CLASSES[kind];
    const native = new Class(options.context ? { context: options.context } : {}) as unknown as NativeSocket;
    try {
      applyOptions(native, options);
    } catch (error) {
      native.close();
      throw error;
    }
    this.#native = native;
    void this.#monitor();
  }

  /** True once a peer has completed its handshake and not gone away (always true over inproc, which has no events). */
  get connected(): boolean {
    return this.#peerCount > 0 || this.#inproc > 0;
  }

  /** The most recent handshake failure, kept so a timeout can say why nothing connected. */
  get lastHandshakeFailure(): HandshakeFailure | undefined {
    return this.#lastHandshakeFailure;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): SocketStats {
    return { ...this.#stats, queued: this.#queue.length + this.#waiters.length };
  }

  /**
   * Binds and resolves with the actual endpoint (a `tcp://host:*` port is resolved).
   *
   * Binds on this thread (zeromq.js's `bindSync`), never through its asynchronous `bind`, which
   * runs libzmq on a thread-pool thread while the binding's poller may still enter the same socket
   * from this thread for a receive or send already pending. libzmq sockets are not thread-safe:
   * that aborted processes in pipe.cpp:355 (docs/architecture.md, "Native aborts").
   */
  async bind(endpoint: string): Promise<string> {
    try {
      rejectBadEndpoint(endpoint);
      retryInterrupted(() => this.#native.bindSync(endpoint));
    } catch (error) {
      throw endpointError(`bind the ${this.kind} socket to`, endpoint, error);
    }
    if (endpoint.startsWith('inproc://')) this.#inproc += 1;
    return this.#native.lastEndpoint ?? endpoint;
  }

  /**
   * Unbinds. zeromq.js 6.8 has no working synchronous unbind (its `unbindSync` binds), and its
   * asynchronous one is safe only while nothing else is pending on the socket, so this refuses while
   * a receive or send is in progress (close the socket instead) and holds sends and receives back
   * until it is done.
   */
  async unbind(endpoint: string): Promise<void> {
    if (this.#receivesPending > 0 || this.#sending || this.#unbinding) {
      throw new Error(`cannot unbind the ${this.kind} socket while a receive, send or unbind is in progress (zeromq.js would enter libzmq from two threads); close it instead`);
    }
    const unbinding = this.#native.unbind(endpoint);
    this.#unbinding = unbinding.catch(() => undefined);
    try {
      await unbinding;
    } finally {
      this.#unbinding = undefined;
      this.#pump();
    }
    if (endpoint.startsWith('inproc://')) this.#inproc -= 1;
  }

  connect(endpoint: string): void {
    try {
      rejectBadEndpoint(endpoint);
      retryInterrupted(() => this.#native.connect(endpoint));
    } catch (error) {
      throw endpointError(`connect the ${this.kind} socket to`, endpoint, error);
    }
    if (endpoint.startsWith('inproc://')) this.#inproc += 1;
  }

  disconnect(endpoint: string): void {
    retryInterrupted(() => this.#native.disconnect(endpoint));
    if (endpoint.startsWith('inproc://')) this.#inproc -= 1;
  }

  /** Subscribes a SUB socket to every topic starting with one of these prefixes. */
  subscribe(...prefixes: string[]): void {
    if (this.kind !== 'sub' || !this.#native.subscribe) throw new TypeError(`a ${this.kind} socket cannot subscribe`);
    this.#native.subscribe(...prefixes);
  }

  unsubscribe(...prefixes: string[]): void {
    if (this.kind !== 'sub' || !this.#native.unsubscribe) throw new TypeError(`a ${this.kind} socket cannot unsubscribe`);
    this.#native.unsubscribe(...prefixes);
  }

  /**
   * Queues a message. Resolves once accepted into the send queue; ZeroMQ takes it as soon as it can,
   * in order. When the queue is full: rejects with OverloadedError (`reject`) or waits (`wait`).
   * Rejects with UnavailableError once the socket is closed.
   */
  send(item: T): Promise<void> {
    if (RECEIVE_ONLY.has(this.kind)) throw new TypeError(`a ${this.kind} socket cannot send`);
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#queue.length < this.#capacity) {
      this.#queue.push(item);
      this.#pump();
      return RESOLVED;
    }
    if (this.#whenFull === 'reject') {
      this.#stats.rejected += 1;
      return Promise.reject(new OverloadedError(`the ${this.kind} socket's send queue is full (${this.#capacity} messages)`));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ item, resolve, reject }));
  }

  /** Queues a message if there is room; returns false (and counts a rejection) when the queue is full. */
  trySend(item: T): boolean {
    if (RECEIVE_ONLY.has(this.kind)) throw new TypeError(`a ${this.kind} socket cannot send`);
    if (this.#closed) throw this.#closedError();
    if (this.#queue.length >= this.#capacity) {
      this.#stats.rejected += 1;
      return false;
    }
    this.#queue.push(item);
    this.#pump();
    return true;
  }

  /** Resolves true once ZeroMQ has taken every queued message, or false after `timeoutMs`. */
  flush(timeoutMs = Infinity): Promise<boolean> {
    if (this.#idle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            this.#flushWaiters = this.#flushWaiters.filter((waiter) => waiter !== done);
            resolve(false);
          }, timeoutMs)
        : undefined;
      this.#flushWaiters.push(done);
    });
  }

  /** The next message, or undefined once the socket is closed. */
  receive(): Promise<Frames | undefined> {
    if (SEND_ONLY.has(this.kind)) throw new TypeError(`a ${this.kind} socket cannot receive`);
    if (this.#closed) return Promise.resolve(undefined);
    if (this.#unbinding) return this.#unbinding.then(() => this.receive());
    let received: Promise<Frames>;
    try {
      received = this.#native.receive!();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.#receivesPending += 1;
    // Plain promise chaining rather than async/await: this is the per-message hot path.
    return received.then(this.#onReceived, this.#onReceiveFailed);
  }

  readonly #onReceived = (frames: Frames): Frames => {
    this.#receivesPending -= 1;
    this.#stats.received += 1;
    return frames;
  };

  readonly #onReceiveFailed = (error: unknown): undefined => {
    this.#receivesPending -= 1;
    if (this.#closed || this.#native.closed) return undefined;
    throw error;
  };

  /** Received messages until the socket closes. One receive loop per socket. */
  [Symbol.asyncIterator](): AsyncIterator<Frames, undefined> {
    if (SEND_ONLY.has(this.kind)) throw new TypeError(`a ${this.kind} socket cannot receive`);
    if (this.#receiving) throw new TypeError(`the ${this.kind} socket already has a receive loop`);
    this.#receiving = true;
    const stop = (): IteratorReturnResult<undefined> => {
      this.#receiving = false;
      return DONE;
    };
    const toResult = (frames: Frames | undefined): IteratorResult<Frames, undefined> => (frames === undefined ? stop() : { done: false, value: frames });
    return {
      next: () => this.receive().then(toResult),
      return: () => Promise.resolve(stop()),
    };
  }

  /**
   * Closes the socket. With `flushTimeout`, first waits up to that long for the send queue to
   * drain. Messages still queued are then dropped (and counted); ZeroMQ keeps trying to deliver
   * what it already holds for `linger` ms. Idempotent.
   */
  async close(options: { readonly flushTimeout?: number } = {}): Promise<void> {
    if (this.#closed) return;
    if (options.flushTimeout !== undefined && options.flushTimeout > 0) await this.flush(options.flushTimeout);
    if (this.#closed) return;
    this.#closed = true;
    const dropped = this.#queue.drain();
    const waiters = this.#waiters.drain();
    this.#stats.dropped += dropped.length + waiters.length;
    if (dropped.length + waiters.length > 0) this.#log.debug({ dropped: dropped.length + waiters.length }, 'dropped queued messages on close');
    for (const waiter of waiters) waiter.reject(this.#closedError());
    this.#native.close();
    this.#notifyFlushed();
  }

  #pump(): void {
    if (this.#sending || this.#closed || this.#unbinding || this.#queue.length === 0) return;
    const frames = this.#buildFrames(this.#queue);
    this.#admitWaiters();
    this.#sending = true;
    let sent: Promise<void>;
    try {
      sent = this.#native.send!(frames);
    } catch (error) {
      // zeromq.js throws synchronously for some failures; treat them like a rejected send.
      sent = Promise.reject(error as Error);
    }
    sent.then(this.#onSent, this.#onSendFailed);
  }

  readonly #onSent = (): void => {
    this.#sending = false;
    this.#stats.sent += 1;
    if (this.#queue.length === 0) this.#notifyFlushed();
    else this.#pump();
  };

  readonly #onSendFailed = (error: unknown): void => {
    this.#sending = false;
    if (this.#closed || this.#native.closed) {
      this.#stats.dropped += 1;
    } else {
      this.#stats.sendErrors += 1;
      this.#log.warn({ err: error }, 'ZeroMQ refused a message');
    }
    if (this.#queue.length === 0) this.#notifyFlushed();
    else this.#pump();
  };

  #admitWaiters(): void {
    while (this.#waiters.length > 0 && this.#queue.length < this.#capacity) {
      const waiter = this.#waiters.shift()!;
      this.#queue.push(waiter.item);
      waiter.resolve();
    }
  }

  #idle(): boolean {
    return this.#closed || (!this.#sending && this.#queue.length === 0 && this.#waiters.length === 0);
  }

  #notifyFlushed(): void {
    if (!this.#idle() || this.#flushWaiters.length === 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #closedError(): UnavailableError {
    return new UnavailableError(`the ${this.kind} socket is closed`);
  }

  async #monitor(): Promise<void> {
    try {
      const observer = startMonitor(this.#native);
      for await (const raw of observer) {
        if (raw.type === 'end') break;
        const translated = translateSocketEvent(raw);
        if (!translated) continue;
        if (translated.type === 'connected') {
          this.#peers.set(translated.event.address, (this.#peers.get(translated.event.address) ?? 0) + 1);
          this.#peerCount += 1;
          this.#lastHandshakeFailure = undefined;
        } else if (translated.type === 'disconnected') {
          const count = this.#peers.get(translated.event.address) ?? 0;
          // A peer that never completed its handshake was never counted as connected.
          if (count === 0) continue;
          if (count === 1) this.#peers.delete(translated.event.address);
          else this.#peers.set(translated.event.address, count - 1);
          this.#peerCount -= 1;
        } else if (translated.type === 'handshakeFailed') {
          this.#lastHandshakeFailure = translated.event;
          this.#log.warn({ ...translated.event }, 'handshake failed');
        }
        this.events.emit(translated.type, translated.event as never);
      }
    } catch (error) {
      if (!this.#closed) this.#log.warn({ err: error }, 'socket monitor stopped');
    }
  }
}

function applyOptions(native: NativeSocket, options: SocketOptions): void {
  const settings: Record<string, unknown> = {
    linger: options.linger ?? SOCKET_DEFAULTS.linger,
    sendHighWaterMark: options.sendHighWaterMark ?? SOCKET_DEFAULTS.sendHighWaterMark,
    receiveHighWaterMark: options.receiveHighWaterMark ?? SOCKET_DEFAULTS.receiveHighWaterMark,
    maxMessageSize: options.maxMessageSize ?? defaultMaxMessageSize(options.limits),
    reconnectInterval: options.reconnectInterval ?? SOCKET_DEFAULTS.reconnectInterval,
    reconnectMaxInterval: options.reconnectMaxInterval ?? SOCKET_DEFAULTS.reconnectMaxInterval,
    ...(options.routingId !== undefined ? { routingId: options.routingId } : {}),
    ...(options.curve ? curveSocketOptions(options.curve) : {}),
  };
  const target = native as unknown as Record<string, unknown>;
  for (const [name, value] of Object.entries(settings)) {
    // Send options do not exist on receive-only sockets and the reverse; skip what does not apply.
    if (!(name in target)) {
      if (name === 'routingId') throw new TypeError('routingId applies to dealer, req and router sockets only');
      continue;
    }
    target[name] = value;
  }
}

/** An endpoint libzmq would refuse or (for an out-of-range tcp port) silently wrap. */
class BadEndpointError extends Error {
  readonly code = 'EINVAL';
}

function rejectBadEndpoint(endpoint: string): void {
  const problem = endpointProblem(endpoint);
  if (problem) throw new BadEndpointError(problem);
}

/**
 * libzmq's errors ("Address already in use", "Invalid argument") do not say which endpoint; this one
 * does, keeps the errno `code`, and tells the operator what to do.
 */
function endpointError(action: string, endpoint: string, error: unknown): Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  const reason = error instanceof Error ? error.message : String(error);
  const hint =
    code === 'EADDRINUSE' ? ': another process is listening there; stop it or choose another port'
    : code === 'EINVAL' && !(error instanceof BadEndpointError) ? ': check the endpoint (tcp://host:port with a port from 0 to 65535, or ipc:///path)'
    : code === 'EADDRNOTAVAIL' || code === 'ENODEV' ? ': bind an address or interface name this machine has (127.0.0.1, 0.0.0.0, eth0)'
    : code === 'EACCES' ? ': permission denied (ports below 1024 need privileges; an ipc path needs a writable directory)'
    : '';
  return Object.assign(new Error(`cannot ${action} ${endpoint}: ${reason}${hint}`, { cause: error }), typeof code === 'string' ? { code } : {});
}

