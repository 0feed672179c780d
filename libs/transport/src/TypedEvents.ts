import { componentLogger } from '@correio/observability';

/** A listener for one event type. */
export type Listener<E> = (event: E) => void;

const log = componentLogger('events');
let listenerFailures = 0;

/** How many times a listener has thrown in this process (each one contained and logged). */
export function listenerFailureCount(): number {
  return listenerFailures;
}

/**
 * A minimal typed event emitter. `on` returns the function that removes the listener. A listener
 * that throws breaks neither the loop that emitted the event nor the process: events are often
 * driven by what peers send, so a listener bug one hostile message can reach must not take a
 * server down. The failure is logged at error level and counted (`listenerFailureCount`).
 */
export class TypedEvents<M extends object> {
  readonly #listeners = new Map<keyof M, Set<Listener<never>>>();

  on<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void {
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(type, listener);
  }

  /** Calls the listener for the next event of this type only. */
  once<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void {
    const off = this.on(type, (event) => {
      off();
      listener(event);
    });
    return off;
  }

  off<K extends keyof M>(type: K, listener: Listener<M[K]>): void {
    this.#listeners.get(type)?.delete(listener as Listener<never>);
  }

  /** Resolves with the next event of this type. */
  next<K extends keyof M>(type: K): Promise<M[K]> {
    return new Promise((resolve) => this.once(type, resolve));
  }

  emit<K extends keyof M>(type: K, event: M[K]): void {
    const set = this.#listeners.get(type);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<M[K]>)(event);
      } catch (error) {
        listenerFailures += 1;
        log.error({ err: error, event: String(type) }, 'an event listener threw; contained');
      }
    }
  }

  listenerCount(type: keyof M): number {
    return this.#listeners.get(type)?.size ?? 0;
  }
}
