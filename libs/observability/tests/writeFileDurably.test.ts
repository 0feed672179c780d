import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileDurably } from '@correio/observability';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'correio-durable-'));
  dirs.push(dir);
  return dir;
};

describe('writeFileDurably', () => {
  it('creates and replaces a file, leaving no temporary file behind', () => {
    const dir = scratch();
    const file = join(dir, 'state.json');
    writeFileDurably(file, 'first\n');
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    writeFileDurably(file, 'second\n', join(dir, '.state.aside'));
    expect(readFileSync(file, 'utf8')).toBe('second\n');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('leaves the target as it was and removes the temporary file when the rename fails', () => {
    const dir = scratch();
    // Renaming a file over a non-empty directory fails (EISDIR): the target must stay as it was.
    const target = join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'old\n');
    expect(() => writeFileDurably(target, 'new\n', join(dir, 'aside.tmp'))).toThrow();
    expect(readFileSync(join(target, 'inside'), 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['occupied']);
  });
});
