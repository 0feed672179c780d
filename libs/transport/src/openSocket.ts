import * as zmq from 'zeromq';
import { ManagedSocket, type SocketKind } from './ManagedSocket.js';
import type { SocketOptions, TransportContext } from './SocketOptions.js';

/**
 * Opens a managed socket of any kind, for components that route raw frames themselves (the
 * broker's ROUTER, a proxy's XSUB/XPUB pair). Unless told otherwise, a full send queue makes
 * `send` wait rather than reject.
 */
export function openSocket(kind: SocketKind, options: SocketOptions = {}): ManagedSocket {
  return new ManagedSocket(kind, options);
}

/** A separate ZeroMQ context, e.g. to give a group of sockets its own ZAP handler. */
export function newContext(): TransportContext {
  return new zmq.Context();
}
