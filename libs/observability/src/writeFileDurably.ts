import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Replaces `path` with `contents` so that a crash leaves the old file or the new one, never a torn
 * one, and returns only once the new one is durable: it writes a temporary file beside it, fsyncs
 * it, renames it over `path` and fsyncs the directory. `temporary` names the file aside (default
 * `<path>.<pid>.tmp`); it is removed when the rename fails. `mode` is the new file's (0600 for secrets).
 */
export function writeFileDurably(path: string, contents: string, temporary = `${path}.${process.pid}.tmp`, mode = 0o644): void {
  writeFileSync(temporary, contents, { mode });
  try {
    fsync(temporary, 'r+');
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  fsync(dirname(path), 'r');
}

function fsync(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
