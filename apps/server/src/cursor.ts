import type { OrderKey } from './store/order.js';

// Version 1 layout: [1][wall: u64][logical: u32][seq: u64][origin: UTF-8 …], in base64url. An
// origin is at most 128 printable ASCII bytes, so a cursor is at most 199 characters, within the
// protocol's 256 (defs.json#/$defs/cursor), whatever characters the origin holds.
const VERSION = 1;
const FIXED = 1 + 8 + 4 + 8;

/** The opaque paging cursor for an order key. */
export function encodeCursor(key: OrderKey): string {
  const origin = Buffer.from(key[2], 'utf8');
  const bytes = Buffer.alloc(FIXED + origin.length);
  bytes.writeUInt8(VERSION, 0);
  bytes.writeBigUInt64BE(BigInt(key[0]), 1);
  bytes.writeUInt32BE(key[1], 9);
  bytes.writeBigUInt64BE(BigInt(key[3]), 13);
  origin.copy(bytes, FIXED);
  return bytes.toString('base64url');
}

/** Parses a cursor from a client; undefined when it is not one this server issues. */
export function decodeCursor(cursor: string): OrderKey | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.length <= FIXED || bytes.length > FIXED + 128 || bytes.readUInt8(0) !== VERSION) return undefined;
  const wall = bytes.readBigUInt64BE(1);
  const seq = bytes.readBigUInt64BE(13);
  if (wall > BigInt(Number.MAX_SAFE_INTEGER) || seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const origin = bytes.subarray(FIXED).toString('utf8');
  if (!/^[\x21-\x7e]{1,128}$/.test(origin)) return undefined;
  // Only the canonical spelling is ours: base64url decoding forgives stray bits a cursor never has.
  const key: OrderKey = [Number(wall), bytes.readUInt32BE(9), origin, Number(seq)];
  return encodeCursor(key) === cursor ? key : undefined;
}
