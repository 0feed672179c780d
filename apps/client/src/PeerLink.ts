import type { SocketEventMap, TypedEvents } from '@correio/transport';

/**
 * Whether one socket is connected to its peer (the broker, or the proxy), from the socket's
 * `connected` / `disconnected` events. ZeroMQ reconnects by itself; this only watches, so the
 * client can tell the user when a peer goes away and when it comes back, and wait for it.
 */
export class PeerLink {
  readonly endpoint: string;
  #connections = 0;
  readonly #waiters = new Set<(up: boolean) => void>();
  readonly #onChange: (up: boolean) => void;
  readonly #unsubscribe: (() => void)[];

  constructor(endpoint: string, events: TypedEvents<SocketEventMap>, onChange: (up: boolean) => void, initiallyUp = false) {
    this.endpoint = endpoint;
    this.#onChange = onChange;
    // inproc:// has no monitor events: it is up as soon as it is connected.
    this.#connections = initiallyUp || endpoint.startsWith('inproc://') ? 1 : 0;
    this.#unsubscribe = [events.on('connected', () => this.#change(+1)), events.on('disconnected', () => this.#change(-1))];
  }

  get up(): boolean {
    return this.#connections > 0;
  }

  /** Resolves true once the peer is connected, false after `timeoutMs` (or when `signal` aborts). */
  waitUp(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.up) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (result: boolean): void => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const wake = (up: boolean): void => finish(up);
      const onAbort = (): void => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops watching. */
  dispose(): void {
    for (const off of this.#unsubscribe) off();
    for (const wake of [...this.#waiters]) wake(false);
  }

  #change(delta: number): void {
    const wasUp = this.up;
    this.#connections = Math.max(0, this.#connections + delta);
    if (this.up === wasUp) return;
    if (this.up) for (const wake of [...this.#waiters]) wake(true);
    this.#onChange(this.up);
  }
}
