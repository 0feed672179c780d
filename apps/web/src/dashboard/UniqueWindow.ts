// A bounded list of items each held once, in one order: the timeline's events and the Logs panel's
// lines, where every snapshot or read repeats most of what came before.

export class UniqueWindow<T> {
  private items: T[] = [];
  private readonly keys = new Set<string>();

  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly order: (a: T, b: T) => number,
    /** Items kept, at most: those last in the order go first. */
    private readonly max: number,
  ) {}

  /** Adds the items not yet held; how many were new. */
  add(items: readonly T[]): number {
    const fresh = items.filter((item) => {
      const key = this.keyOf(item);
      if (this.keys.has(key)) return false;
      this.keys.add(key);
      return true;
    });
    if (fresh.length === 0) return 0;
    this.items = [...this.items, ...fresh].sort(this.order);
    for (const dropped of this.items.splice(this.max)) this.keys.delete(this.keyOf(dropped));
    return fresh.length;
  }

  clear(): void {
    this.items = [];
    this.keys.clear();
  }

  get all(): readonly T[] {
    return this.items;
  }
}
