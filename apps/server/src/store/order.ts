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
