import type * as zmq from 'zeromq';

/** Calls into libzmq that a signal interrupted at most this many times in a row are tried again. */
const INTERRUPTED_RETRIES = 10;

/**
 * Runs a libzmq call again when a signal interrupted it (EINTR: libzmq processes its commands while
 * connecting or binding, and a signal — a profiler's SIGPROF, a child's SIGCHLD — can cut that
 * short). Nothing was done by the interrupted call, so trying again is safe. `also`: other codes
 * that mean the same for this call.
 */
export function retryInterrupted<T>(call: () => T, also: readonly string[] = []): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return call();
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if ((code !== 'EINTR' && !also.includes(code as string)) || attempt >= INTERRUPTED_RETRIES) throw error;
    }
  }
}

/**
 * The socket's event monitor. Starting one binds and connects inproc sockets, which a signal can
 * interrupt (EINTR). zeromq.js names the monitor's endpoint after the address of its observer
 * object, and an observer that failed half-way leaves that endpoint bound: a later observer placed
 * at the same address fails with EADDRINUSE. Each attempt is a new observer at a new address, and
 * the one that succeeds replaces any monitor an earlier attempt left on this socket.
 */
export function startMonitor(native: { readonly events: zmq.Observer }): zmq.Observer {
  return retryInterrupted(() => native.events, ['EADDRINUSE']);
}
