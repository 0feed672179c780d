import { Fifo } from '../Fifo.js';

/**
 * One service's waiting requests: re-dispatched ones (a dead worker's, FRAMES.md §1.8) go first,
 * then new ones, each in arrival order. Every request gets its deadline when it joins a list
 * (now + a fixed wait), so each list is also in deadline order and the expired requests are
 * always at the heads: finding them costs what is due, not the queue's length.
 */
export class RequestQueue<T extends { readonly deadline: number }> {
  readonly #redispatched = new Fifo<T>();
  readonly #fresh = new Fifo<T>();

  get length(): number {
    return this.#redispatched.length + this.#fresh.length;
  }

  push(request: T): void {
    this.#fresh.push(request);
  }

  /** A request that already waited once; it goes before every new one. */
  pushRedispatched(request: T): void {
    this.#redispatched.push(request);
  }

  shift(): T | undefined {
    return this.#redispatched.shift() ?? this.#fresh.shift();
  }

  /** Removes and returns every request whose deadline is not after `now`. */
  takeExpired(now: number): T[] {
    const expired: T[] = [];
    for (const list of [this.#redispatched, this.#fresh]) {
      while (list.length > 0 && list.peek()!.deadline <= now) expired.push(list.shift()!);
    }
    return expired;
  }

  /** Empties the queue, returning what it held in serving order. */
  drain(): T[] {
    return [...this.#redispatched.drain(), ...this.#fresh.drain()];
  }
}
