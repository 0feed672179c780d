import { createHash } from 'node:crypto';

/**
 * An order-independent content hash: the XOR of the SHA-256 of every operation's canonical bytes.
 * Two stores holding the same set of operations have the same digest whatever order they applied
 * them in, and it updates in O(1) per operation.
 */
export function xorDigest(current: Uint8Array, opBytes: Uint8Array): Uint8Array {
  const hash = createHash('sha256').update(opBytes).digest();
  const next = new Uint8Array(32);
  for (let i = 0; i < 32; i++) next[i] = current[i]! ^ hash[i]!;
  return next;
}

export const EMPTY_DIGEST = new Uint8Array(32);
