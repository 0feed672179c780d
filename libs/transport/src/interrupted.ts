import type * as zmq from 'zeromq';

/** Calls into libzmq that a signal interrupted at most this many times in a row are tried again. */
const INTERRUPTED_RETRIES = 10;

/**
 * The socket's event monitor. Starting one binds and connects inproc sockets, which a signal can
 * interrupt (EINTR). zeromq.js names the monitor's endpoint after the address of its observer
 * object, and an observer that failed half-way leaves that endpoint bound: a later observer placed
 * at the same address fails with EADDRINUSE. Each attempt is a new observer at a new address, and
 * the one that succeeds replaces any monitor an earlier attempt left on this socket.
 */
export function startMonitor(native: { readonly events: zmq.Observer }): zmq.Observer {
  for (let attempt = 1; ; attempt++) {
    try {
      return native.events;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if ((code !== 'EINTR' && code !== 'EADDRINUSE') || attempt >= INTERRUPTED_RETRIES) throw error;
    }
  }
}

/**
 * Runs a libzmq call again when a signal interrupted it (EINTR: libzmq processes its commands while
 * connecting or binding, and a signal — a profiler's SIGPROF, a child's SIGCHLD — can cut that
 * short). Nothing was done by the interrupted call, so trying again is safe.
 */
export function retryInterrupted<T>(call: () => T): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code !== 'EINTR' || attempt >= INTERRUPTED_RETRIES) throw error;
    }
  }
}
