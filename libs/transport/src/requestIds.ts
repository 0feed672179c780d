import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
const ID_BYTES = 16;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * A fresh request id in Correio's format (22 characters of URL-safe base64 of 16 random bytes,
 * ENCODING.md §4), drawn from a pooled random buffer: one `randomBytes` call per 256 ids
 * instead of one per id, which matters on the publish and request hot paths.
 */
export function nextRequestId(): string {
  if (offset + ID_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}
