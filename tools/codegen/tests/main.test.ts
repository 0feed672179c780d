// The generator end to end, against a temporary copy of the schemas: --check detects stale,
// missing and orphaned files without touching them, and generation is deterministic.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { run, type RunResult } from '../src/main.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const roots: string[] = [];
// The first run loads json-schema-to-typescript and prettier; give the machine (2 shared cores) room.
const SLOW = 180_000;

/** A temporary root holding a copy of `from` (default: the checkout's schemas only). */
function tempRoot(from?: string): string {
  const root = mkdtempSync(join(tmpdir(), 'correio-codegen-'));
  roots.push(root);
  if (from) cpSync(from, root, { recursive: true });
  else cpSync(join(REPO, 'protocol/schemas'), join(root, 'protocol/schemas'), { recursive: true });
  return root;
}

// A whole generation takes seconds: one is made once, and a test that changes files works on a copy.
let generated: Promise<string> | undefined;
function generatedRoot(): Promise<string> {
  generated ??= (async () => {
    const root = tempRoot();
    expect((await quietly(root, false)).exitCode).toBe(0);
    return root;
  })();
  return generated;
}

const ignore = (): void => undefined;

function quietly(root: string, check: boolean): Promise<RunResult & { errors: string[] }> {
  const errors: string[] = [];
  return run(root, { check, log: ignore, warn: ignore, error: (line) => errors.push(line) }).then((result) => ({ ...result, errors }));
}

/** Every file under `dir`, relative path → content. */
function tree(dir: string): Map<string, string> {
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((path) => path.includes('.'));
  return new Map(files.sort().map((path) => [path, readFileSync(join(dir, path), 'utf8')]));
}

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

describe('npm run generate / generate:check', () => {
  it('writes everything, then --check passes, and a stale, missing or orphaned file fails it', async () => {
    const fresh = await quietly(tempRoot(), true);
    expect(fresh.exitCode).toBe(1);
    expect(fresh.stale).toContain('protocol/vectors/v1/codec.json');
    expect(fresh.stale).toContain('libs/protocol/src/generated/validators.ts');
    const root = tempRoot(await generatedRoot());
    const vectors = join(root, 'protocol/vectors/v1');
    expect(existsSync(join(vectors, 'messages/chat.login.request.json'))).toBe(true);
    expect(await quietly(root, true)).toMatchObject({ exitCode: 0, stale: [] });

    // A hand edit to a vector file is stale; --check reports it and leaves it alone.
    const loginFile = join(vectors, 'messages/chat.login.request.json');
    const edited = readFileSync(loginFile, 'utf8').replace('"error":"VALIDATION"', '"error":"DECODE"');
    writeFileSync(loginFile, edited);
    const stale = await quietly(root, true);
    expect(stale.exitCode).toBe(1);
    expect(stale.stale).toEqual(['protocol/vectors/v1/messages/chat.login.request.json']);
    expect(stale.errors.join('\n')).toContain('chat.login.request.json');
    expect(readFileSync(loginFile, 'utf8')).toBe(edited);

    // A vector file nothing generates (a removed type) and a missing binding are stale too.
    writeFileSync(join(vectors, 'messages/chat.removed.json'), '{}\n');
    unlinkSync(join(root, 'libs/protocol/src/generated/catalogue.ts'));
    expect((await quietly(root, true)).stale).toEqual([
      'libs/protocol/src/generated/catalogue.ts',
      'protocol/vectors/v1/messages/chat.login.request.json',
      'protocol/vectors/v1/messages/chat.removed.json',
    ]);

    // Generating repairs all of it: the edit is undone and the orphan deleted.
    expect((await quietly(root, false)).exitCode).toBe(0);
    expect(existsSync(join(vectors, 'messages/chat.removed.json'))).toBe(false);
    expect(readFileSync(loginFile, 'utf8')).not.toBe(edited);
    expect(await quietly(root, true)).toMatchObject({ exitCode: 0, stale: [] });
  }, SLOW);

  it('is deterministic: two independent runs write identical files, equal to the committed ones', async () => {
    const a = await generatedRoot();
    const b = tempRoot();
    await quietly(b, false);
    const treeA = tree(join(a, 'protocol/vectors'));
    expect(treeA.size).toBeGreaterThan(3);
    expect(tree(join(b, 'protocol/vectors'))).toEqual(treeA);
    expect(tree(join(b, 'libs/protocol/src/generated'))).toEqual(tree(join(a, 'libs/protocol/src/generated')));
    // The checkout's own vectors are what the generator makes from its schemas (generate:check).
    for (const [path, content] of treeA) expect(readFileSync(join(REPO, 'protocol/vectors', path), 'utf8'), path).toBe(content);
  }, SLOW);

  it('runs only the generators --only names, and refuses an unknown name', async () => {
    const root = tempRoot();
    const result = await run(root, { check: false, only: ['rust'], log: ignore, warn: ignore });
    expect(result.stale.length).toBeGreaterThan(3);
    expect(result.stale.every((path) => path.startsWith('peers/rust/src/protocol/'))).toBe(true);
    expect(readFileSync(join(root, 'peers/rust/src/protocol/types.rs'), 'utf8')).toBe(readFileSync(join(REPO, 'peers/rust/src/protocol/types.rs'), 'utf8'));
    expect(existsSync(join(root, 'libs/protocol/src/generated'))).toBe(false);
    await expect(run(root, { check: true, only: ['cobol'], log: ignore })).rejects.toThrow(/unknown generator cobol; known: typescript, .*rust/);
  }, SLOW);

  it('writes nothing when everything is up to date', async () => {
    const root = tempRoot(await generatedRoot());
    expect((await quietly(root, false)).stale).toEqual([]);
  }, SLOW);
});
