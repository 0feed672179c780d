import type { ChatPublication } from '@correio/protocol';

/** An operation id, as publications and direct messages carry it. */
export type OpId = ChatPublication['op'];

/** Where a publication sits in a channel's history: the order every replica returns (chat.history.reply). */
export interface HistoryPosition {
  readonly hlc: readonly [number, number];
  readonly op: OpId;
}

/** Negative when `a` comes before `b` in history order: hlc, then op.origin (byte order), then op.seq. */
export function compareHistory(a: HistoryPosition, b: HistoryPosition): number {
  return a.hlc[0] - b.hlc[0] || a.hlc[1] - b.hlc[1] || Buffer.compare(Buffer.from(a.op.origin), Buffer.from(b.op.origin)) || a.op.seq - b.op.seq;
}

export function sameOp(a: OpId, b: OpId): boolean {
  return a.origin === b.origin && a.seq === b.seq;
}

/**
 * The operation ids already sent on one feed, so one that arrives twice (live and in a history
 * read, or live twice) is sent once. The least recently seen are forgotten beyond `capacity`.
 */
export class SeenOps {
  readonly #keys = new Set<string>();
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Records `op`; false when it was seen already. */
  add(op: OpId): boolean {
    const key = `${op.origin}\u0000${op.seq}`;
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    if (this.#keys.size > this.#capacity) this.#keys.delete(this.#keys.values().next().value!);
    return true;
  }
}
