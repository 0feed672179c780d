import type { Operation } from '@correio/protocol';

/**
 * The position of an operation in every reader-visible order: HLC wall time, HLC logical counter,
 * origin, per-origin sequence. Identical on every server for the same operation, so converged
 * replicas list history identically.
 */
export type OrderKey = [wall: number, logical: number, origin: string, seq: number];

export function orderOf(op: Operation): OrderKey {
  return [op.hlc[0], op.hlc[1], op.op.origin, op.op.seq];
}

export function compareOrder(a: OrderKey, b: OrderKey): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0) || a[3] - b[3];
}

/** An opaque pagination cursor for an order key. */
export function encodeCursor(key: OrderKey): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Parses a cursor from a client; undefined when it is not one we issued. */
export function decodeCursor(cursor: string): OrderKey | undefined {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) && key.length === 4 &&
      Number.isSafeInteger(key[0]) && Number.isSafeInteger(key[1]) &&
      typeof key[2] === 'string' && Number.isSafeInteger(key[3])
    ) {
      return key as OrderKey;
    }
  } catch {
    // fall through: not a cursor of ours
  }
  return undefined;
}
