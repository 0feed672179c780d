import { readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readFileIfPresent, writeFileDurably } from '@correio/observability';
import type { RegistrySnapshot, RegistryStore } from './RegistryStore.js';
import { CorruptRegistryError, SNAPSHOT_FORMAT, validateSnapshot } from './validateSnapshot.js';

/** The state file's name inside the data directory. */
export const STATE_FILE = 'registry.json';
const TEMP_PREFIX = `.${STATE_FILE}.`;

/**
 * The registry as one small JSON file, replaced atomically: the new snapshot is written to a
 * temporary file in the same directory and fsynced, renamed over the old one, and the directory is
 * fsynced so the rename itself is durable. A crash at any point leaves either the old or the new
 * file whole, never a mix; a temporary file left by a crash is ignored and removed on start.
 *
 * Why a JSON file rather than LMDB: the state is a few KB (at most a thousand listed servers) and is
 * written only when a server first registers, changes its endpoint or /health URL or leaves, never per heartbeat.
 * At that rate a whole-file rewrite costs a couple of fsyncs, needs no native addon, and leaves a file
 * an operator can read, back up and restore with ordinary tools.
 *
 * One process at a time: hold the directory's DataDirLock before constructing the store.
 */
export class JsonFileRegistryStore implements RegistryStore {
  readonly path: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, STATE_FILE);
    this.#removeTemporaryFiles();
  }

  load(): RegistrySnapshot | undefined {
    const text = readFileIfPresent(this.path);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new CorruptRegistryError(`${this.path}: not valid JSON (${(error as Error).message}); refusing to start, since the ranks it records could be issued twice`);
    }
    return validateSnapshot(value, this.path);
  }

  save(snapshot: RegistrySnapshot): void {
    const text = `${JSON.stringify({ format: SNAPSHOT_FORMAT, nextRank: snapshot.nextRank, servers: snapshot.servers }, null, 1)}\n`;
    writeFileDurably(this.path, text, join(this.#dir, `${TEMP_PREFIX}${process.pid}.tmp`));
  }

  #removeTemporaryFiles(): void {
    for (const name of readdirSync(this.#dir)) {
      if (name.startsWith(TEMP_PREFIX)) unlinkSync(join(this.#dir, name));
    }
  }
}
