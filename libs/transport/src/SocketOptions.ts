import { DEFAULT_LIMITS, type Limits } from '@correio/codec';
import type * as zmq from 'zeromq';
import type { CurveOptions } from './curve.js';
import type { Logger } from '@correio/observability';

/** A ZeroMQ context: sockets that authenticate through one ZapAuthenticator must share it. */
export type TransportContext = zmq.Context;

/** What `send` does when the socket's send queue is full. */
export type WhenSendQueueFull =
  /** Reject at once with OverloadedError (retryable): for callers that can shed load. */
  | 'reject'
  /** Wait until the queue has room: backpressure for callers that must not lose the message. */
  | 'wait';

/** Options every transport socket understands. Every field has a safe default. */
export interface SocketOptions {
  /** How long, in ms, a closed socket keeps trying to deliver messages ZeroMQ still holds. Default 500. */
  readonly linger?: number;
  /** ZeroMQ's per-peer outbound queue limit, in messages. Default 1000. */
  readonly sendHighWaterMark?: number;
  /** ZeroMQ's per-peer inbound queue limit, in messages. Default 1000. */
  readonly receiveHighWaterMark?: number;
  /** Largest inbound frame in bytes; a peer sending more is disconnected. Default: limits.maxBytes. */
  readonly maxMessageSize?: number;
  /** First reconnect delay in ms. Default 100. */
  readonly reconnectInterval?: number;
  /** Reconnect delays double up to this many ms. Default 5000. */
  readonly reconnectMaxInterval?: number;
  /** Messages the socket's own send queue holds while ZeroMQ cannot take them. Default 1000. */
  readonly sendQueueCapacity?: number;
  /** What `send` does when that queue is full. Each component documents its default. */
  readonly whenSendQueueFull?: WhenSendQueueFull;
  /** CURVE encryption and authentication; off by default. */
  readonly curve?: CurveOptions;
  /** The ZeroMQ context; defaults to the process-wide one. */
  readonly context?: TransportContext;
  /** The socket's identity as routing sockets see it (dealer, req, router only). */
  readonly routingId?: string;
  /** Codec limits; maxBytes also bounds inbound frames. Defaults to DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>;
  /** Where the socket logs; quiet by default. */
  readonly logger?: Logger;
}

export const SOCKET_DEFAULTS = Object.freeze({
  linger: 500,
  sendHighWaterMark: 1000,
  receiveHighWaterMark: 1000,
  reconnectInterval: 100,
  reconnectMaxInterval: 5000,
  sendQueueCapacity: 1000,
});

/** The inbound frame limit that matches the codec's message limit. */
export function defaultMaxMessageSize(limits?: Partial<Limits>): number {
  return limits?.maxBytes ?? DEFAULT_LIMITS.maxBytes;
}
