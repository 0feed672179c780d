import { MessageCodec } from '@correio/codec';
import type { BackoffOptions } from './backoff.js';
import { componentLogger, type Logger } from '@correio/observability';
import { defaultFraming, isServiceName, type Framing } from './mdp.js';
import { Responder, type RequestHandler } from './Responder.js';
import type { SocketOptions } from './SocketOptions.js';
import { defaultSenderId, LamportStamp, type Stamp } from './Stamp.js';
import { TypedEvents } from './TypedEvents.js';
import { WorkerConnection, type WorkerCounters, type WorkerEventMap } from './WorkerConnection.js';

export interface WorkerOptions extends SocketOptions {
  /** The broker endpoint. */
  readonly endpoint: string;
  /** The MDP service this worker registers. */
  readonly service: string;
  readonly handler: RequestHandler;
  /** Requests served at once: one MDP worker connection (DEALER socket) each. Default 1. */
  readonly concurrency?: number;
  /** Ms between heartbeats. Default 2500. */
  readonly heartbeatInterval?: number;
  /** Heartbeat intervals without any message from the broker after which it is presumed dead. Default 3. */
  readonly liveness?: number;
  /** Delay before reconnecting. Default: one heartbeat interval, doubling while reconnections fail, up to 30 s. */
  readonly reconnectBackoff?: BackoffOptions;
  /** How long stop() waits for requests in progress, ms. Default 5000. */
  readonly drainTimeout?: number;
  /** Stamps replies and observes requests; defaults to a LamportStamp. */
  readonly stamp?: Stamp;
  /** Sender id for the default stamp. */
  readonly from?: string;
  /**
   * How READY, HEARTBEAT and DISCONNECT are framed (protocol/FRAMES.md §1.12); each reply goes as its
   * request came. Default `packed` (or `CORREIO_MDP_FRAMING`), which brokers of revision 1.10 accept;
   * `classic` for older or other RFC 18 brokers.
   */
  readonly framing?: Framing;
}

export type WorkerStats = Readonly<WorkerCounters> & {
  /** Requests being served now. */
  readonly inFlight: number;
  readonly connections: number;
};

/**
 * MDP/0.2 worker: registers `service` with the broker and serves its requests with `handler`, up
 * to `concurrency` at once over as many worker connections, so the broker stays a standard RFC 18
 * broker. Replies repeat the request id and carry the reply type the protocol declares; a thrown
 * CorreioError becomes an `error` reply with its code, anything else INTERNAL; requests that
 * cannot be decoded or validated are answered with DECODE, VALIDATION, ... and counted.
 * Heartbeats both ways, reconnects with backoff when the broker goes silent or disconnects it,
 * and stop() drains in-flight requests (bounded) before sending DISCONNECT.
 */
export class Worker {
  readonly service: string;
  readonly events = new TypedEvents<WorkerEventMap>();
  readonly #connections: WorkerConnection[];
  readonly #counters: WorkerCounters = {
    requests: 0,
    replies: 0,
    partials: 0,
    handlerErrors: 0,
    replyFailures: 0,
    malformedRequests: 0,
    malformedByCode: {},
    busyRejections: 0,
    stoppingRejections: 0,
    repliesDropped: 0,
    malformedMessages: 0,
    heartbeatsSent: 0,
    brokerExpiries: 0,
    disconnectsReceived: 0,
    reconnects: 0,
    openFailures: 0,
    abandoned: 0,
  };
  readonly #drainTimeout: number;
  readonly #log: Logger;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  #stopped: Promise<void> | undefined;

  constructor(options: WorkerOptions) {
    if (!isServiceName(options.service)) throw new RangeError(`invalid MDP service name ${JSON.stringify(options.service)}`);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    const heartbeatInterval = options.heartbeatInterval ?? 2500;
    const liveness = options.liveness ?? 3;
    if (!(heartbeatInterval > 0) || !Number.isSafeInteger(liveness) || liveness < 1) throw new RangeError('heartbeatInterval and liveness must be positive');
    this.service = options.service;
    this.#drainTimeout = options.drainTimeout ?? 5000;
    this.#log = componentLogger('mdp.worker', options.logger).child({ service: options.service });
    const stamp = options.stamp ?? new LamportStamp(options.from ?? defaultSenderId(`worker-${options.service}`));
    const responder = new Responder(new MessageCodec(options.limits ? { limits: options.limits } : {}), stamp, this.#log);
    const settings = {
      endpoint: options.endpoint,
      service: options.service,
      framing: options.framing ?? defaultFraming(),
      handler: options.handler,
      responder,
      heartbeatInterval,
      liveness,
      reconnectBackoff: options.reconnectBackoff ?? { initialMs: heartbeatInterval, maxMs: Math.max(heartbeatInterval, 30_000) },
      socketOptions: { ...options, logger: this.#log },
      counters: this.#counters,
      events: this.events,
      log: this.#log,
    };
    this.#connections = Array.from({ length: concurrency }, (_, index) => new WorkerConnection(index, settings));
  }

  get stats(): WorkerStats {
    return {
      ...this.#counters,
      malformedByCode: { ...this.#counters.malformedByCode },
      inFlight: this.#connections.filter((connection) => connection.busy).length,
      connections: this.#connections.length,
    };
  }

  /** Connects every worker connection and registers the service. */
  start(): this {
    if (this.#state !== 'new') throw new Error(`the worker is already ${this.#state}`);
    this.#state = 'running';
    for (const connection of this.#connections) connection.start();
    return this;
  }

  /**
   * Graceful stop: idle connections send DISCONNECT at once; busy ones finish their request (up to
   * `drainTimeout` ms), reply, then send DISCONNECT. Handlers still running at the deadline are
   * aborted through their signal and their replies dropped (counted as `abandoned`). Idempotent.
   */
  stop(options: { readonly drainTimeout?: number } = {}): Promise<void> {
    if (this.#stopped) return this.#stopped;
    const deadline = Date.now() + (options.drainTimeout ?? this.#drainTimeout);
    this.#state = 'stopping';
    this.#stopped = Promise.all(this.#connections.map((connection) => connection.stop(deadline))).then(() => {
      this.#state = 'stopped';
    });
    return this.#stopped;
  }
}
