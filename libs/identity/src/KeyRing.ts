import { statSync } from 'node:fs';
import { importJWK, type CryptoKey } from 'jose';
import type { Logger } from '@correio/observability';
import { createKeySetIfMissing, readKeySet, type KeyRecord } from './keySet.js';

interface LoadedKey {
  readonly kid: string;
  readonly createdAt: number;
  readonly retireAt: number | undefined;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

export interface KeyRingOptions {
  /** Create the file with one new key when it does not exist (default false: a missing file is an error). */
  readonly create?: boolean;
  /** How often to look at the file's mtime and reload it when it changed (default 5 s; 0: never). */
  readonly checkIntervalMs?: number;
  readonly logger?: Logger;
}

/** Why a key id cannot verify. */
export type KeyLookupFailure = 'unknown_key' | 'retired_key';

/**
 * The keys of a key-set file, imported: the newest unretired one signs, every unretired one
 * verifies. Reloads the file when its mtime changes (checked every few seconds) and on reload();
 * a file that fails to load keeps the keys already loaded, with a warning.
 */
export class KeyRing {
  readonly path: string;
  #keys: readonly LoadedKey[] = [];
  #mtimeMs = -1;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  readonly #logger: Logger | undefined;

  private constructor(path: string, logger: Logger | undefined) {
    this.path = path;
    this.#logger = logger;
  }

  /** Loads (or first creates) the key-set file; throws when it cannot be loaded. */
  static async open(path: string, options: KeyRingOptions = {}): Promise<KeyRing> {
    if (options.create && (await createKeySetIfMissing(path))) options.logger?.info({ path }, 'auth: created a new signing key set');
    const ring = new KeyRing(path, options.logger);
    await ring.#load();
    const interval = options.checkIntervalMs ?? 5_000;
    if (interval > 0) {
      ring.#timer = setInterval(() => void ring.reloadIfChanged(), interval);
      ring.#timer.unref();
    }
    return ring;
  }

  /** The key that signs new tokens: the newest unretired one. */
  signingKey(now = Date.now()): { readonly kid: string; readonly key: CryptoKey } {
    const usable = this.#keys.filter((key) => key.retireAt === undefined || key.retireAt > now);
    const newest = usable.reduce<LoadedKey | undefined>((best, key) => (best === undefined || key.createdAt > best.createdAt ? key : best), undefined);
    if (newest === undefined) throw new Error(`every key in ${this.path} is retired: rotate the key set (add a new key)`);
    return { kid: newest.kid, key: newest.privateKey };
  }

  /** The public key that verifies tokens signed under `kid`, or why there is none. */
  verificationKey(kid: unknown, now = Date.now()): CryptoKey | KeyLookupFailure {
    const key = typeof kid === 'string' ? this.#keys.find((candidate) => candidate.kid === kid) : undefined;
    if (key === undefined) return 'unknown_key';
    if (key.retireAt !== undefined && key.retireAt <= now) return 'retired_key';
    return key.publicKey;
  }

  /** The key ids loaded, newest last. */
  kids(): string[] {
    return [...this.#keys].sort((a, b) => a.createdAt - b.createdAt).map((key) => key.kid);
  }

  /** Loads the file again (SIGHUP); on failure keeps the current keys and logs why. */
  async reload(): Promise<void> {
    this.#reloading ??= this.#load()
      .catch((error: unknown) => this.#logger?.warn({ path: this.path, err: (error as Error).message }, 'auth: could not reload the key set; keeping the keys loaded before'))
      .finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  /** Reloads when the file's mtime changed since the last load. */
  async reloadIfChanged(): Promise<void> {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(this.path).mtimeMs;
    } catch {
      return; // gone for now: keep the keys loaded
    }
    if (mtimeMs !== this.#mtimeMs) await this.reload();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #load(): Promise<void> {
    const mtimeMs = statSync(this.path).mtimeMs;
    const set = readKeySet(this.path);
    const keys = await Promise.all(set.keys.map((record) => importKey(record)));
    const before = new Set(this.#keys.map((key) => key.kid));
    this.#keys = keys;
    this.#mtimeMs = mtimeMs;
    const added = keys.filter((key) => !before.has(key.kid)).map((key) => key.kid);
    if (before.size > 0 && added.length > 0) this.#logger?.info({ path: this.path, added }, 'auth: loaded new keys');
  }
}

async function importKey(record: KeyRecord): Promise<LoadedKey> {
  const privateKey = (await importJWK({ ...record.jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
  const publicKey = (await importJWK({ kty: 'OKP', crv: 'Ed25519', x: record.jwk.x, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
  return { kid: record.kid, createdAt: record.created_at, retireAt: record.retire_at, privateKey, publicKey };
}
