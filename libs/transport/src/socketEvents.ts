import type * as zmq from 'zeromq';

/** Why a ZMTP security handshake failed. */
export type HandshakeFailureReason =
  /** The peer (or its ZAP handler) refused our credentials, or we refused theirs. */
  | 'auth'
  /** The peers disagree on the mechanism or sent malformed commands: a configuration mismatch. */
  | 'protocol'
  | 'other';

export interface HandshakeFailure {
  readonly address: string;
  readonly reason: HandshakeFailureReason;
  /** ZAP status code (400 refused, 500 internal) for `auth` failures. */
  readonly status?: number;
  /** ZeroMQ's error code for `protocol` and `other` failures. */
  readonly code?: string;
  readonly message: string;
}

/** Socket events, as every transport component surfaces them. */
export interface SocketEventMap {
  /** A peer completed the ZMTP handshake (and, with CURVE, authentication): it is usable now. */
  connected: { readonly address: string };
  /** A peer that had connected went away. */
  disconnected: { readonly address: string };
  /** A handshake failed; with CURVE this is how a wrong or refused key shows up. */
  handshakeFailed: HandshakeFailure;
  /** The socket is listening on an address. */
  listening: { readonly address: string };
  /** A bound socket accepted a TCP or IPC connection (the handshake follows). */
  accepted: { readonly address: string };
  /** A connecting socket will try again after `interval` ms. */
  connectRetried: { readonly address: string; readonly interval: number };
}

type SocketEvent = { [K in keyof SocketEventMap]: { type: K; event: SocketEventMap[K] } }[keyof SocketEventMap];

/** Translates one ZeroMQ monitor event into a transport event, or undefined for the ones not surfaced. */
export function translateSocketEvent(event: zmq.Event): SocketEvent | undefined {
  switch (event.type) {
    case 'handshake':
      return { type: 'connected', event: { address: event.address } };
    case 'disconnect':
      return { type: 'disconnected', event: { address: event.address } };
    case 'bind':
      return { type: 'listening', event: { address: event.address } };
    case 'accept':
      return { type: 'accepted', event: { address: event.address } };
    case 'connect:retry':
      return { type: 'connectRetried', event: { address: event.address, interval: event.interval } };
    case 'handshake:error:auth':
      return {
        type: 'handshakeFailed',
        event: { address: event.address, reason: 'auth', status: event.error.status, message: event.error.message },
      };
    case 'handshake:error:protocol':
      return {
        type: 'handshakeFailed',
        event: { address: event.address, reason: 'protocol', code: event.error.code, message: event.error.message },
      };
    case 'handshake:error:other':
      return {
        type: 'handshakeFailed',
        event: { address: event.address, reason: 'other', code: event.error.code, message: event.error.message },
      };
    default:
      return undefined;
  }
}
