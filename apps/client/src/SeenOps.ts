import type { ChatPublication } from '@correio/protocol';

/** An operation id, as carried by publications and direct messages. */
export type OpId = ChatPublication['op'];

/** The key of an operation id: origin and sequence number are unique together. */
export function opKey(op: OpId): string {
  return `${op.origin}\u0000${op.seq}`;
}

/**
 * The operations already shown, so one that arrives twice (live and in a history page re-read
 * after a gap, or live twice after a reconnection) is shown once. Least recently seen ids are
 * forgotten beyond `capacity`, so memory stays bounded in a long session.
 */
export class SeenOps {
  readonly #keys = new Set<string>();
  readonly #capacity: number;

  constructor(capacity = 10_000) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#keys.size;
  }

  has(op: OpId): boolean {
    return this.#keys.has(opKey(op));
  }

  /** Records `op`; returns false when it had been seen already. */
  add(op: OpId): boolean {
    const key = opKey(op);
    if (this.#keys.has(key)) {
      // Refresh its place: a recently repeated id is the likeliest to repeat again.
      this.#keys.delete(key);
      this.#keys.add(key);
      return false;
    }
    this.#keys.add(key);
    if (this.#keys.size > this.#capacity) this.#keys.delete(this.#keys.values().next().value!);
    return true;
  }
}
