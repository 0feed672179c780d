import type { Operation } from '@correio/protocol';

/** Per-origin contiguous high-water marks, a content hash and an operation count. */
export interface LogDigest {
  readonly hwm: Readonly<Record<string, number>>;
  readonly hash: string;
  readonly ops: number;
}

/**
 * The durable operation log a server keeps: what replication reads and writes. Applying must be
 * idempotent and order-independent, and must resolve only once the operations are durable.
 */
export interface ReplicaLog {
  /** The highest seq n such that every operation 1..n of `origin` is held. */
  highWaterMark(origin: string): number;
  /** Held operations of `origin` from `from` (inclusive), ascending by seq, at most `limit`. */
  opsFrom(origin: string, from: number, limit: number, to?: number): Operation[];
  /** Applies operations of any origins; resolves with how many were new, once durable. */
  apply(ops: readonly Operation[]): Promise<number>;
  digest(): LogDigest;
}
