import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScratchDir {
  readonly dir: string;
  /** Removes the directory and everything in it. Idempotent. */
  remove(): void;
}

/** A fresh directory under the system's temporary directory. */
export function scratchDir(prefix = 'correio-test-'): ScratchDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
