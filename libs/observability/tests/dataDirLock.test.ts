import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLock, DataDirLockedError } from '@correio/observability';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'correio-lock-'));
  dirs.push(dir);
  return dir;
}

describe('DataDirLock', () => {
  it('holds the directory through a file with our pid, and releases it once', () => {
    const dir = dataDir();
    const lock = DataDirLock.acquire(dir, 'demo.lock');
    expect(lock.path).toBe(join(dir, 'demo.lock'));
    expect(readFileSync(lock.path, 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(dir)).toEqual(['demo.lock']); // nothing left aside
    lock.release();
    lock.release(); // idempotent
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over a stale lock: one whose process no longer exists, or one naming this very pid', () => {
    const dir = dataDir();
    // Above Linux's default pid_max (2^22), so no such process.
    writeFileSync(join(dir, 'demo.lock'), `${2 ** 22 + 1}\n`);
    const taken = DataDirLock.acquire(dir, 'demo.lock');
    expect(readFileSync(taken.path, 'utf8').trim()).toBe(String(process.pid));
    // A restarted container may get its old pid back: the lock then names us, and is stale too.
    const again = DataDirLock.acquire(dir, 'demo.lock');
    expect(readFileSync(again.path, 'utf8').trim()).toBe(String(process.pid));
    again.release();
    taken.release(); // no longer ours to remove: already gone
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a directory held by a live process, naming it, and leaves its lock alone', () => {
    const dir = dataDir();
    writeFileSync(join(dir, 'demo.lock'), `${process.ppid}\n`); // our parent is certainly alive
    expect(() => DataDirLock.acquire(dir, 'demo.lock')).toThrow(DataDirLockedError);
    expect(() => DataDirLock.acquire(dir, 'demo.lock')).toThrow(`data directory ${dir} is in use by process ${process.ppid}`);
    expect(readFileSync(join(dir, 'demo.lock'), 'utf8')).toBe(`${process.ppid}\n`);
    // Locks of different names do not exclude each other: each program names its own.
    DataDirLock.acquire(dir, 'other.lock').release();
  });
});
