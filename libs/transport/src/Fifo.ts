/**
 * A first-in first-out queue with O(1) push, shift and unshift, and in-place removal by predicate:
 * an array with a moving head that is compacted once half of it is dead, so a long-lived busy
 * queue neither leaks nor shifts.
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Puts an item back at the front (a request that must keep its place). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Compact once the consumed prefix dominates, so memory follows the live length.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every item for which `predicate` holds, keeping order; returns the removed items. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    let first = this.#head;
    while (first < this.#items.length && !predicate(this.#items[first] as T)) first++;
    if (first === this.#items.length) return [];
    const removed: T[] = [this.#items[first] as T];
    const kept = this.#items.slice(this.#head, first) as T[];
    for (let i = first + 1; i < this.#items.length; i++) {
      const item = this.#items[i] as T;
      (predicate(item) ? removed : kept).push(item);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  /** Empties the queue, returning what it held, oldest first. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }
}
