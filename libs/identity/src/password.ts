import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { PasswordHash } from '@correio/protocol';

/** scrypt cost parameters: N (a power of two), r and p. */
export interface ScryptParams {
  readonly n: number;
  readonly r: number;
  readonly p: number;
}

/** The cost new hashes use: N=2^15, r=8, p=1 (32 MiB, tens of ms per hash). */
export const DEFAULT_SCRYPT: ScryptParams = { n: 2 ** 15, r: 8, p: 1 };

const SALT_BYTES = 32;
const HASH_BYTES = 32;
/**
 * The most memory one hash may take. A record's parameters come from a replicated operation; this
 * keeps one with huge ones (N=2^20, r=32 would want 4 GiB) from exhausting the process: it never
 * verifies instead.
 */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** Hashes a password with a fresh random salt; the parameters travel in the record. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, HASH_BYTES);
  return { alg: 'scrypt', n: params.n, r: params.r, p: params.p, salt: salt.toString('base64url'), hash: hash.toString('base64url') };
}

/**
 * True when `password` matches `record`, compared in constant time. A record this process cannot
 * compute (unknown algorithm, N not a power of two, more memory than allowed, a malformed salt or
 * hash) never matches.
 */
export async function verifyPassword(password: string, record: PasswordHash): Promise<boolean> {
  if (record.alg !== 'scrypt' || !usableParams(record)) return false;
  const salt = Buffer.from(record.salt, 'base64url');
  const expected = Buffer.from(record.hash, 'base64url');
  if (salt.byteLength < 16 || expected.byteLength < 16) return false;
  let actual: Buffer;
  try {
    actual = await derive(password, salt, record, expected.byteLength);
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}

/** Spends the time of one verification, so an unknown user takes as long to refuse as a wrong password. */
export async function verifyNothing(password: string): Promise<false> {
  await verifyPassword(password, DUMMY);
  return false;
}

const DUMMY: PasswordHash = { alg: 'scrypt', ...DEFAULT_SCRYPT, salt: 'A'.repeat(43), hash: 'A'.repeat(43) };

function usableParams({ n, r, p }: ScryptParams): boolean {
  const powerOfTwo = Number.isInteger(n) && n >= 2 && (n & (n - 1)) === 0;
  return powerOfTwo && Number.isInteger(r) && r >= 1 && Number.isInteger(p) && p >= 1 && memoryOf({ n, r, p }) <= MAX_SCRYPT_MEMORY;
}

function memoryOf({ n, r, p }: ScryptParams): number {
  return 128 * n * r + 128 * r * p;
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.n, r: params.r, p: params.p, maxmem: memoryOf(params) + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}
