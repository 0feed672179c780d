import { hostname } from 'node:os';
import type { ErrorCode } from '@correio/codec';
import type { CurveServerOptions } from '../curve.js';

/** The subset of a pino logger the broker and proxy use; any pino logger fits. */
export interface TransportLogger {
  debug(details: object, message: string): void;
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
  /** pino's: whether lines at `level` are written (a per-request line is built only then). */
  isLevelEnabled?(level: string): boolean;
}

/** Why the broker dropped a message without answering it. */
export type BrokerDropReason =
  | 'unknown-header'
  | 'malformed-client-command'
  | 'malformed-worker-command'
  | 'unknown-worker'
  | 'late-reply'
  | 'stray-reply';

/** How a worker left. */
export type WorkerDeparture = 'expired' | 'disconnected' | 'protocol-violation' | 'shutdown';

/** Which bound refused a peer: the number of services the broker tracks, or of worker connections. */
export type BrokerLimit = 'services' | 'workers';

/**
 * Why the broker forgot a service: it had no worker for `serviceExpiryMs` (`idle`), its entry was
 * reused for a new name at the `maxServices` bound (`evicted`), or no worker registered it before
 * the start-up grace ended (`never-registered`).
 */
export type ServiceDeparture = 'idle' | 'evicted' | 'never-registered';

/**
 * Hooks for metrics. Each is called synchronously on the broker's loop, so keep them cheap
 * (increment a counter, observe a histogram).
 */
export interface BrokerObserver {
  requestReceived?(service: string): void;
  /** A worker's PARTIAL or FINAL went to its client; `seconds` is the request's time in the broker (FINAL only). */
  replyForwarded?(service: string, final: boolean, seconds: number | undefined): void;
  /** The broker answered a request itself with an `error` FINAL. */
  errorSent?(service: string, code: ErrorCode): void;
  dropped?(reason: BrokerDropReason): void;
  workerReady?(service: string): void;
  workerLeft?(service: string, why: WorkerDeparture): void;
  /** A dead worker's request was given to another worker of an idempotent service. */
  redispatched?(service: string): void;
  /** A READY or a request was refused because a bound was reached. */
  refused?(limit: BrokerLimit): void;
  serviceForgotten?(service: string, why: ServiceDeparture): void;
  /** A TCP endpoint was unbound and bound again to close `stuck` connections libzmq would never close (`maxStuckConnections`). */
  endpointRebound?(stuck: number): void;
}

export interface MajordomoBrokerOptions {
  /** Where the ROUTER binds, such as `tcp://127.0.0.1:5555`; several are allowed. */
  readonly endpoints: readonly string[];
  /** The broker's id, the `from` of the error envelopes it sends. Defaults to `broker-<host>-<pid>`. */
  readonly id?: string;
  /** Heartbeat interval in ms (RFC 18; FRAMES.md §1.6). Default 2500. */
  readonly heartbeatIntervalMs?: number;
  /** Heartbeats a worker may miss before it is declared dead. Default 3. */
  readonly liveness?: number;
  /** How long a request may wait in its service's queue before it is answered with an error. Default 5000 ms. */
  readonly requestDeadlineMs?: number;
  /** Queued requests per service before OVERLOADED. Default 1000. */
  readonly maxQueuePerService?: number;
  /** Queued requests over all services before OVERLOADED. Default 10000. */
  readonly maxQueueTotal?: number;
  /** Services whose requests may run twice: a dead worker's request is re-dispatched once (FRAMES.md §1.8). */
  readonly idempotentServices?: Iterable<string>;
  /** After start, how long requests for services never seen are queued rather than refused. Default interval × liveness. */
  readonly startupGraceMs?: number;
  /** Largest inbound frame; a peer that sends a larger one is disconnected by ZeroMQ. Default 1 MiB (ENCODING.md §2). */
  readonly maxMessageSize?: number;
  /** Per-peer send and receive high-water marks. Default 10000. */
  readonly highWaterMark?: number;
  /**
   * Services the broker tracks at once. At the bound, a new name takes the place of the service
   * that has had no worker for longest; when every tracked service has a worker, READY for a new
   * name is refused (DISCONNECT). Default 1000.
   */
  readonly maxServices?: number;
  /** Registered worker connections at once; READY beyond it is refused (DISCONNECT). Default 10000. */
  readonly maxWorkers?: number;
  /** How long a service with no worker is remembered (its requests get UNAVAILABLE, not UNKNOWN_SERVICE). Default 300000 ms. */
  readonly serviceExpiryMs?: number;
  /**
   * Connections libzmq 4.3.5 will never close that the broker tolerates per TCP endpoint before it
   * unbinds and binds the endpoint again, which closes them and every other connection through it
   * (peers reconnect at once; workers register again). Such connections come from routing-id
   * collisions: a peer taking over a routing id a live connection holds, after which the displaced
   * connection sends (docs/architecture.md, "Peer-keyed state and its bounds"). Seen as CLOSE_WAIT
   * sockets in /proc/net/tcp (Linux only); 0 turns the check off. Default 256 (~25 KB each).
   */
  readonly maxStuckConnections?: number;
  /** How often stuck connections are counted; an endpoint is rebound at the bound in two counts in a row. Default 5000 ms. */
  readonly stuckCheckIntervalMs?: number;
  readonly curve?: CurveServerOptions;
  readonly logger?: TransportLogger;
  readonly observer?: BrokerObserver;
}

export interface ResolvedBrokerOptions {
  readonly id: string;
  readonly heartbeatIntervalMs: number;
  readonly liveness: number;
  readonly requestDeadlineMs: number;
  readonly maxQueuePerService: number;
  readonly maxQueueTotal: number;
  readonly idempotentServices: ReadonlySet<string>;
  readonly startupGraceMs: number;
  readonly maxMessageSize: number;
  readonly highWaterMark: number;
  readonly maxServices: number;
  readonly maxWorkers: number;
  readonly serviceExpiryMs: number;
  readonly maxStuckConnections: number;
  readonly stuckCheckIntervalMs: number;
}

export const BROKER_DEFAULTS = {
  heartbeatIntervalMs: 2_500,
  liveness: 3,
  requestDeadlineMs: 5_000,
  maxQueuePerService: 1_000,
  maxQueueTotal: 10_000,
  maxMessageSize: 1_048_576,
  highWaterMark: 10_000,
  maxServices: 1_000,
  maxWorkers: 10_000,
  serviceExpiryMs: 300_000,
  maxStuckConnections: 256,
  stuckCheckIntervalMs: 5_000,
} as const;

export function resolveBrokerOptions(options: MajordomoBrokerOptions): ResolvedBrokerOptions {
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? BROKER_DEFAULTS.heartbeatIntervalMs);
  const liveness = positive('liveness', options.liveness ?? BROKER_DEFAULTS.liveness);
  const id = options.id ?? defaultNodeId('broker');
  if (!/^[\x20-\x7e]{1,128}$/.test(id)) throw new RangeError(`broker id ${JSON.stringify(id)} must be 1–128 printable ASCII characters`);
  return {
    id,
    heartbeatIntervalMs,
    liveness,
    requestDeadlineMs: positive('requestDeadlineMs', options.requestDeadlineMs ?? BROKER_DEFAULTS.requestDeadlineMs),
    maxQueuePerService: positive('maxQueuePerService', options.maxQueuePerService ?? BROKER_DEFAULTS.maxQueuePerService),
    maxQueueTotal: positive('maxQueueTotal', options.maxQueueTotal ?? BROKER_DEFAULTS.maxQueueTotal),
    idempotentServices: new Set(options.idempotentServices ?? []),
    startupGraceMs: nonNegative('startupGraceMs', options.startupGraceMs ?? heartbeatIntervalMs * liveness),
    maxMessageSize: positive('maxMessageSize', options.maxMessageSize ?? BROKER_DEFAULTS.maxMessageSize),
    highWaterMark: nonNegative('highWaterMark', options.highWaterMark ?? BROKER_DEFAULTS.highWaterMark),
    maxServices: positive('maxServices', options.maxServices ?? BROKER_DEFAULTS.maxServices),
    maxWorkers: positive('maxWorkers', options.maxWorkers ?? BROKER_DEFAULTS.maxWorkers),
    serviceExpiryMs: positive('serviceExpiryMs', options.serviceExpiryMs ?? BROKER_DEFAULTS.serviceExpiryMs),
    maxStuckConnections: nonNegative('maxStuckConnections', options.maxStuckConnections ?? BROKER_DEFAULTS.maxStuckConnections),
    stuckCheckIntervalMs: positive('stuckCheckIntervalMs', options.stuckCheckIntervalMs ?? BROKER_DEFAULTS.stuckCheckIntervalMs),
  };
}

/** `<role>-<host>-<pid>`, reduced to the printable ASCII a node id allows. */
export function defaultNodeId(role: string): string {
  const host = hostname().replace(/[^\x21-\x7e]/g, '').slice(0, 64) || 'host';
  return `${role}-${host}-${process.pid}`;
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be an integer of at least 1, not ${value}`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be an integer of at least 0, not ${value}`);
  return value;
}
