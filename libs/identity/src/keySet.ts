// The key-set file servers of one cluster share: { "keys": [ { kid, created_at, retire_at?, jwk } ] },
// each jwk an Ed25519 private JWK, mode 0600. The newest unretired key signs; every key whose
// retire_at is absent or in the future verifies.
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { writeFileDurably } from '@correio/observability';

export interface KeyRecord {
  /** Key id: the token header's kid. */
  readonly kid: string;
  /** When the key was made (ms since the epoch). */
  readonly created_at: number;
  /** After this time (ms) the key neither signs nor verifies. */
  readonly retire_at?: number;
  /** The Ed25519 private key (kty OKP, crv Ed25519, x, d). */
  readonly jwk: JWK;
}

export interface KeySetFile {
  readonly keys: readonly KeyRecord[];
}

/** The key-set file could not be read or is not a key set. */
export class KeySetError extends Error {
  override name = 'KeySetError';
}

const KID = /^[A-Za-z0-9_-]{1,64}$/;
const B64URL = /^[A-Za-z0-9_-]{43}$/;
const MAX_KEYS = 64;
const MAX_FILE_BYTES = 256 * 1024;

/** A new Ed25519 signing key. */
export async function newKeyRecord(now = Date.now()): Promise<KeyRecord> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  return { kid: `${new Date(now).toISOString().slice(0, 10)}-${randomBytes(6).toString('base64url')}`, created_at: now, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d } };
}

/** Parses and checks a key-set file's text; throws KeySetError naming what is wrong. */
export function parseKeySet(text: string): KeySetFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KeySetError(`not JSON: ${(error as Error).message}`);
  }
  const keys = (value as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_KEYS) throw new KeySetError(`"keys" must be a list of 1 to ${MAX_KEYS} keys`);
  const seen = new Set<string>();
  for (const [index, key] of keys.entries()) {
    const where = `keys[${index}]`;
    const record = key as Partial<KeyRecord> | null;
    if (typeof record?.kid !== 'string' || !KID.test(record.kid)) throw new KeySetError(`${where}.kid must be 1 to 64 of [A-Za-z0-9_-]`);
    if (seen.has(record.kid)) throw new KeySetError(`${where}.kid ${record.kid} appears twice`);
    seen.add(record.kid);
    if (!Number.isSafeInteger(record.created_at)) throw new KeySetError(`${where}.created_at must be a time in ms`);
    if (record.retire_at !== undefined && !Number.isSafeInteger(record.retire_at)) throw new KeySetError(`${where}.retire_at must be a time in ms`);
    const jwk = record.jwk;
    if (jwk?.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !B64URL.test(jwk.x ?? '') || !B64URL.test(jwk.d ?? '')) {
      throw new KeySetError(`${where}.jwk must be an Ed25519 private JWK (kty OKP, crv Ed25519, x, d)`);
    }
  }
  return { keys: keys as KeyRecord[] };
}

/** Reads a key-set file; throws KeySetError (or the fs error when it cannot be read). */
export function readKeySet(path: string): KeySetFile {
  const text = readFileSync(path, 'utf8');
  if (text.length > MAX_FILE_BYTES) throw new KeySetError(`${path} is larger than ${MAX_FILE_BYTES} bytes`);
  try {
    return parseKeySet(text);
  } catch (error) {
    throw new KeySetError(`${path}: ${(error as Error).message}`);
  }
}

/** Replaces the key-set file durably, readable by its owner only. */
export function writeKeySet(path: string, set: KeySetFile): void {
  writeFileDurably(path, `${JSON.stringify(set, null, 2)}\n`, `${path}.${process.pid}.tmp`, 0o600);
  chmodSync(path, 0o600);
}

/**
 * Creates the key-set file with one new key unless it exists. Atomic: when several servers start at
 * once on one file, exactly one creates it and the others read that one. Returns true when created.
 */
export async function createKeySetIfMissing(path: string, now = Date.now()): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  writeFileSync(temporary, `${JSON.stringify({ keys: [await newKeyRecord(now)] }, null, 2)}\n`, { mode: 0o600 });
  try {
    linkSync(temporary, path); // fails with EEXIST when another process made it first
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** The keys that still verify at `now`: those with no `retire_at` or one still ahead. */
export function liveKeys(set: KeySetFile, now = Date.now()): KeyRecord[] {
  return set.keys.filter((key) => key.retire_at === undefined || key.retire_at > now);
}

/** The key that signs at `now`: the newest live one (undefined when every key is retired). */
export function signingKeyRecord(set: KeySetFile, now = Date.now()): KeyRecord | undefined {
  return liveKeys(set, now).reduce<KeyRecord | undefined>((best, key) => (best === undefined || key.created_at > best.created_at ? key : best), undefined);
}

/**
 * Adds a new signing key and sets `retire_at` of every key that has none to now + `retireAfterMs`
 * (the refresh-token lifetime, so every token they signed can still be verified until it expires).
 * Returns the new key's id.
 */
export async function rotateKeySet(path: string, retireAfterMs: number, now = Date.now()): Promise<string> {
  const current = readKeySet(path);
  // The newest key signs: make sure the new one is newer than every key already there.
  const fresh = await newKeyRecord(Math.max(now, ...current.keys.map((key) => key.created_at + 1)));
  const keys = liveKeys(current, now) // retired keys are dropped
    .map((key) => (key.retire_at === undefined ? { ...key, retire_at: now + retireAfterMs } : key));
  writeKeySet(path, { keys: [...keys, fresh] });
  return fresh.kid;
}
