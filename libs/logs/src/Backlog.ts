/**
 * A bounded FIFO of lines waiting to be shipped: over its line or character budget it drops its
 * oldest entries and counts them, so a program's memory stays bounded whatever the log service does.
 */
export class Backlog<T> {
  readonly #maxItems: number;
  readonly #maxChars: number;
  readonly #size: (item: T) => number;
  #items: T[] = [];
  #head = 0;
  #chars = 0;
  /** Entries dropped since `takeDropped` was last called, and the first and last of them. */
  #dropped = 0;
  #firstDropped: T | undefined;
  #lastDropped: T | undefined;

  constructor(maxItems: number, maxChars: number, size: (item: T) => number) {
    this.#maxItems = maxItems;
    this.#maxChars = maxChars;
    this.#size = size;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Entries dropped and not yet taken by `takeDropped`. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds at the end; drops from the front while over budget (never the entry just added). */
  push(item: T): void {
    this.#items.push(item);
    this.#chars += this.#size(item);
    this.#trim();
  }

  /** Removes and returns up to `maxItems` entries from the front, stopping before `maxChars` would be passed (at least one). */
  take(maxItems: number, maxChars: number): T[] {
    const taken: T[] = [];
    let chars = 0;
    while (this.length > 0 && taken.length < maxItems) {
      const next = this.#items[this.#head]!;
      const size = this.#size(next);
      if (taken.length > 0 && chars + size > maxChars) break;
      chars += size;
      taken.push(this.#shift()!);
    }
    return taken;
  }

  /** Puts entries taken back at the front, in order (a batch that could not be shipped), then drops down to budget from the front. */
  unshift(items: readonly T[]): void {
    if (items.length === 0) return;
    this.#items = [...items, ...this.#items.slice(this.#head)];
    this.#head = 0;
    for (const item of items) this.#chars += this.#size(item);
    this.#trim();
  }

  /** Counts entries taken as dropped (a shipment refused for good). */
  discard(items: readonly T[]): void {
    for (const item of items) this.#countDropped(item);
  }

  /** How many entries were dropped since the last call, with the first and last of them; resets the count. */
  takeDropped(): { count: number; first?: T; last?: T } {
    const report = { count: this.#dropped, ...(this.#firstDropped === undefined ? {} : { first: this.#firstDropped }), ...(this.#lastDropped === undefined ? {} : { last: this.#lastDropped }) };
    this.#dropped = 0;
    this.#firstDropped = undefined;
    this.#lastDropped = undefined;
    return report;
  }

  /** Drops from the front while over budget, keeping at least the newest entry. */
  #trim(): void {
    while (this.length > 1 && (this.length > this.#maxItems || this.#chars > this.#maxChars)) {
      this.#countDropped(this.#shift()!);
    }
  }

  #countDropped(item: T): void {
    this.#dropped++;
    this.#firstDropped ??= item;
    this.#lastDropped = item;
  }

  #shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    this.#chars -= this.#size(item);
    // Compact once the consumed front is both large and most of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}
