/**
 * Bounds a metric label's values: up to `limit` distinct values pass, later ones become `other`.
 * Values that come from clients (service names, topics) would otherwise let any client grow the
 * program's memory and the Prometheus database without end. A value that is gone for good (a
 * service the broker forgot) is released, so a peer that churns names cannot keep the places.
 */
export class LabelGuard {
  readonly #seen = new Set<string>();

  constructor(readonly limit = 256) {}

  label(value: string): string {
    if (this.#seen.has(value)) return value;
    if (this.#seen.size >= this.limit) return 'other';
    this.#seen.add(value);
    return value;
  }

  /** Frees `value`'s place for a later value; true when it had one (its series should go too). */
  release(value: string): boolean {
    return this.#seen.delete(value);
  }
}
