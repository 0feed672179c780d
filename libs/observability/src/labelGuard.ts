/**
 * Bounds a metric label's values: the first `limit` distinct values pass, later ones become
 * `other`. Values that come from clients (service names, topics) would otherwise let any client
 * grow the program's memory and the Prometheus database without end.
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
}
