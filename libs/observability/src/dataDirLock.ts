import { closeSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/**
 * Exclusive use of a data directory by one process: two processes on one store would both act as
 * its owner (issue the same rank twice, serve the same server id with two sets of clocks). The lock
 * is a file holding the owner's pid, created atomically with its content (written aside, then
 * hard-linked into place). A lock left by a process that no longer exists (kill -9, a crash) is
 * stale and taken over; so is one naming this very pid (a container restarted with the same pid).
 */
export class DataDirLock {
  readonly path: string;
  #held = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Locks `dir` through the file `lockFile` in it, named after the program (`server.lock`), so an
   * operator sees who holds the directory. Throws DataDirLockedError while a live process holds it.
   */
  static acquire(dir: string, lockFile: string): DataDirLock {
    const lock = new DataDirLock(join(dir, lockFile));
    for (let attempt = 0; attempt < 3; attempt++) {
      if (createWithContent(lock.path, `${process.pid}\n`)) {
        lock.#held = true;
        return lock;
      }
      const owner = readOwner(lock.path);
      if (owner !== undefined && owner !== process.pid && processExists(owner)) {
        throw new DataDirLockedError(`data directory ${dir} is in use by process ${owner} (${lock.path}); stop it first, or use another --data-dir`);
      }
      try {
        unlinkSync(lock.path); // stale: its owner is gone
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new DataDirLockedError(`could not lock data directory ${dir}: another process keeps taking ${lock.path}`);
  }

  /** Releases the lock if this process still owns it. Idempotent. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (readOwner(this.path) === process.pid) unlinkSync(this.path);
  }
}

/** Creates `path` holding `content`, atomically: false when it already exists. */
function createWithContent(path: string, content: string): boolean {
  const aside = `${path}.${process.pid}`;
  const fd = openSync(aside, 'w', 0o644);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(aside, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkSync(aside);
  }
}

function readOwner(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
