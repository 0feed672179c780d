import * as zmq from 'zeromq';

/**
 * Sockets ZeroMQ's default context may hold. libzmq's default, 1023, is near what one server
 * holds: every ManagedSocket is three ZeroMQ sockets (its own and the two of its event monitor),
 * and a server keeps one worker connection per request it may serve at once, for several services
 * (about 270 of them, 820 sockets, for a server that coordinates the task queue). Sockets that are
 * reopened are briefly counted twice, so a reconnection wave could cross the limit and fail.
 */
export const DEFAULT_CONTEXT_MAX_SOCKETS = 16_384;

/** libzmq's own default (ZMQ_MAX_SOCKETS_DFLT). */
const LIBZMQ_DEFAULT_MAX_SOCKETS = 1023;

/**
 * Raises the default context's socket limit to DEFAULT_CONTEXT_MAX_SOCKETS, unless the program set
 * a limit of its own. libzmq reads the limit when the context's first socket is created, so this
 * runs when this module is loaded, before any of the transport's sockets exist; a program that
 * made a ZeroMQ socket before importing the transport keeps the limit it started with.
 */
function raiseDefaultContextLimit(): void {
  if (zmq.context.maxSockets === LIBZMQ_DEFAULT_MAX_SOCKETS) zmq.context.maxSockets = DEFAULT_CONTEXT_MAX_SOCKETS;
}

raiseDefaultContextLimit();

/** True for the error ZeroMQ throws when a context (or the process) has no room for another socket. */
export function isSocketLimitError(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'EMFILE';
}
