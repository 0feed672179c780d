import { MAX_TOPIC_BYTES } from '../topic.js';

/**
 * Who holds which subscription prefix, and who a topic reaches. Prefixes are kept by their exact
 * text, with a count of prefixes of each length: a topic is matched by looking up its own prefix
 * of each length some subscription has (at most 256 lookups, in practice the few lengths honest
 * topics have), never by scanning the subscriptions.
 */
export class PrefixIndex<Member> {
  readonly #holders = new Map<string, Set<Member>>();
  readonly #perLength = new Uint32Array(MAX_TOPIC_BYTES + 1);
  /** The lengths with at least one prefix, ascending. */
  #lengths: number[] = [];

  /** Adds a holder of a prefix (≤ 255 bytes); true when it is the prefix's first. */
  add(prefix: string, member: Member): boolean {
    const holders = this.#holders.get(prefix);
    if (holders) {
      holders.add(member);
      return false;
    }
    this.#holders.set(prefix, new Set([member]));
    if ((this.#perLength[prefix.length]! += 1) === 1) this.#relist();
    return true;
  }

  /** Removes a holder of a prefix; true when it was the prefix's last. */
  remove(prefix: string, member: Member): boolean {
    const holders = this.#holders.get(prefix);
    if (!holders?.delete(member) || holders.size > 0) return false;
    this.#holders.delete(prefix);
    if ((this.#perLength[prefix.length]! -= 1) === 0) this.#relist();
    return true;
  }

  /** Calls `visit` for each holder of each prefix of `topic` (a holder of two such prefixes twice). */
  match(topic: Buffer, visit: (member: Member) => void): void {
    if (this.#lengths.length === 0) return;
    const text = topic.toString('latin1', 0, Math.min(topic.length, MAX_TOPIC_BYTES));
    for (const length of this.#lengths) {
      if (length > text.length) return;
      const holders = this.#holders.get(length === text.length ? text : text.slice(0, length));
      if (holders) for (const member of holders) visit(member);
    }
  }

  /** Holders per prefix. */
  *entries(): IterableIterator<[string, number]> {
    for (const [prefix, holders] of this.#holders) yield [prefix, holders.size];
  }

  /** Distinct prefixes held. */
  get size(): number {
    return this.#holders.size;
  }

  #relist(): void {
    const lengths: number[] = [];
    this.#perLength.forEach((count, length) => {
      if (count > 0) lengths.push(length);
    });
    this.#lengths = lengths;
  }
}
