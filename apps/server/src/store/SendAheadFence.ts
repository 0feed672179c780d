import type { Database, Key } from 'lmdb';

/** Sequence numbers granted at a time: the fence moves once every half block of own operations. */
const BLOCK = 1_024;
const META_KEY = 'send-ahead';

/**
 * Which of this server's own operations may reach its peers before their local commit is durable
 * (the origin's commit and the replication overlap, as a Raft leader's append and its
 * AppendEntries do).
 *
 * The risk of sending ahead: the origin dies before its commit reaches the disk, restarts with a
 * lower high-water mark, and would give a number its peers already hold to a different operation.
 * The fence bounds and detects it. A sequence number may leave early only when it is at or under a
 * fence that an already durable commit wrote (the fence rides in the operations' own transactions,
 * half a block ahead, so it costs no extra commit). A clean close lowers the fence to the
 * high-water mark. So, when a store opens with its fence above its high-water mark, the previous
 * run may have sent operations it never committed, and the server must learn them back from its
 * peers (`resolved()` once it has) before it commits anything of its own.
 */
export class SendAheadFence {
  readonly #meta: Database<unknown, Key>;
  /** The fence as the last durable commit left it. */
  #durable = 0;
  #unresolved = false;

  constructor(meta: Database<unknown, Key>) {
    this.#meta = meta;
  }

  /** Reads the fence at open; `highWaterMark` is that of this server's own operations. */
  load(highWaterMark: number): void {
    this.#durable = (this.#meta.get(META_KEY) as number | undefined) ?? 0;
    this.#unresolved = this.#durable > highWaterMark;
  }

  /** True while operations sent ahead by an earlier run (or by a commit that failed) may be held by peers only. */
  get unresolved(): boolean {
    return this.#unresolved;
  }

  /** The highest own sequence number that may be held by peers only, while unresolved. */
  get limit(): number {
    return this.#durable;
  }

  /** Inside the commit of own operation `seq`: moves the fence on when it is near; returns the value written, if any. */
  advanceInTransaction(seq: number): number | undefined {
    const current = (this.#meta.get(META_KEY) as number | undefined) ?? 0;
    if (current - seq >= BLOCK / 2) return undefined;
    this.#meta.put(META_KEY, seq + BLOCK);
    return seq + BLOCK;
  }

  /** May own operation `seq` be sent to peers before its commit is durable? */
  allows(seq: number): boolean {
    return !this.#unresolved && seq <= this.#durable;
  }

  /** A commit that wrote `written` (advanceInTransaction's value) is durable. */
  committed(written: number | undefined): void {
    if (written !== undefined && written > this.#durable) this.#durable = written;
  }

  /** A commit whose operation was sent ahead failed: peers may hold a number this store does not. */
  lost(): void {
    this.#unresolved = true;
  }

  /** This server learnt back from every peer what they held of its own operations. */
  resolved(): void {
    this.#unresolved = false;
  }

  /** Inside the last transaction of a clean close: nothing is ahead of the high-water mark any more. */
  closeInTransaction(highWaterMark: number): void {
    if (!this.#unresolved) this.#meta.put(META_KEY, highWaterMark);
  }
}
