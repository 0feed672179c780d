// When a test runs a program from its build: only when, in every package it needs, each source file
// has its built file, written no earlier. Modification times are set explicitly, so no test depends on the clock.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { builtEntry } from '../src/builtEntry.js';

const roots: string[] = [];
const BUILT_AT = new Date('2026-12-07T10:00:00Z');
const BEFORE = new Date('2026-12-07T09:00:00Z');
const AFTER = new Date('2026-12-07T11:00:00Z');

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

afterEach(() => {
  delete process.env['CORREIO_TEST_FROM_SOURCE'];
});

function write(path: string, content: string, time = BEFORE): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  utimesSync(path, time, time);
}

/** A package at `dir` named `name`, depending on `dependencies`, with one source file and its build. */
function workspacePackage(root: string, dir: string, name: string, dependencies: string[] = []): void {
  const at = join(root, dir);
  write(join(at, 'package.json'), JSON.stringify({ name, dependencies: Object.fromEntries(dependencies.map((dependency) => [dependency, '*'])) }));
  write(join(at, 'src', 'main.ts'), 'export {};\n');
  write(join(at, 'src', 'types.d.ts'), 'export {};\n');
  write(join(at, 'dist', 'main.js'), 'export {};\n', BUILT_AT);
}

/** apps/server depending on libs/transport, which depends on libs/codec; all built after their sources. */
function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'correio-built-entry-'));
  roots.push(root);
  for (const group of ['libs', 'apps', 'tools']) mkdirSync(join(root, group));
  workspacePackage(root, 'libs/codec', '@correio/codec');
  workspacePackage(root, 'libs/transport', '@correio/transport', ['@correio/codec', 'pino']);
  workspacePackage(root, 'apps/server', '@correio/server', ['@correio/transport']);
  return root;
}

describe('builtEntry', () => {
  it('gives the build when the package and every workspace package it depends on were built after their sources', () => {
    const root = workspace();
    expect(builtEntry(root, join(root, 'apps/server/src/main.ts'))).toBe(join(root, 'apps/server/dist/main.js'));
  });

  it('gives the sources when a dependency two levels down was edited after its build', () => {
    const root = workspace();
    utimesSync(join(root, 'libs/codec/src/main.ts'), AFTER, AFTER);
    expect(builtEntry(root, join(root, 'apps/server/src/main.ts'))).toBeUndefined();
  });

  it('gives the sources after an edit that only a declarations build followed (the typecheck target: new stamp, old .js)', () => {
    const root = workspace();
    utimesSync(join(root, 'apps/server/src/main.ts'), AFTER, AFTER);
    write(join(root, 'apps/server/dist/main.d.ts'), 'export {};\n', AFTER);
    write(join(root, 'apps/server/dist/tsconfig.lib.tsbuildinfo'), '{}', AFTER);
    expect(builtEntry(root, join(root, 'apps/server/src/main.ts'))).toBeUndefined();
  });

  it('gives the sources when a source file has no built file (added since the build)', () => {
    const root = workspace();
    write(join(root, 'libs/transport/src/sockets/added.ts'), 'export {};\n');
    expect(builtEntry(root, join(root, 'apps/server/src/main.ts'))).toBeUndefined();
  });

  it('gives the sources for an entry without its built file, a file outside src/, and when asked to', () => {
    const root = workspace();
    expect(builtEntry(root, join(root, 'apps/server/src/other.ts'))).toBeUndefined();
    write(join(root, 'apps/server/tests/fixture.ts'), 'export {};\n');
    expect(builtEntry(root, join(root, 'apps/server/tests/fixture.ts'))).toBeUndefined();
    process.env['CORREIO_TEST_FROM_SOURCE'] = '1';
    expect(builtEntry(root, join(root, 'apps/server/src/main.ts'))).toBeUndefined();
  });
});
