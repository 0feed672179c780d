import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readKeySet } from '@correio/identity';
import { runCorreio } from './helpers/runCorreio.js';

const scratch = mkdtempSync(join(tmpdir(), 'correio-auth-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('correio auth', () => {
  it('creates a key set, rotates it (the old key verifies until --retire-after), and lists key ids, never keys', async () => {
    const keys = join(scratch, 'auth-keys.json');
    const created = await runCorreio(['auth', 'keys', '--create', '--keys', keys]);
    expect(created.code, created.stderr).toBe(0);
    expect(statSync(keys).mode & 0o777).toBe(0o600);
    const [first] = readKeySet(keys).keys;
    expect(created.stdout).toContain(`${first!.kid}`);
    expect(created.stdout).toMatch(/verifies no end {2}\(signs\)/);

    const rotated = await runCorreio(['auth', 'rotate-key', '--retire-after', '2m'], { env: { CORREIO_AUTH_KEYS: keys } });
    expect(rotated.code, rotated.stderr).toBe(0);
    const after = readKeySet(keys).keys;
    expect(after).toHaveLength(2);
    const old = after.find((key) => key.kid === first!.kid)!;
    const fresh = after.find((key) => key.kid !== first!.kid)!;
    expect(old.retire_at! - Date.now()).toBeGreaterThan(100_000);
    expect(old.retire_at! - Date.now()).toBeLessThanOrEqual(120_000);
    expect(fresh.retire_at).toBeUndefined();
    expect(rotated.stdout).toContain(`new signing key ${fresh.kid}`);
    expect(rotated.stdout).toMatch(new RegExp(`${fresh.kid} .*\\(signs\\)`));
    expect(rotated.stdout).not.toMatch(new RegExp(`${old.kid} .*\\(signs\\)`));
    expect(rotated.stdout).not.toContain(String(fresh.jwk.d));
  });

  it('says what to do when the key set is missing or no file is named', async () => {
    const missing = await runCorreio(['auth', 'rotate-key', '--keys', join(scratch, 'nope.json')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no key set at .*nope\.json: give the file the servers read with --auth-keys/);
    const unnamed = await runCorreio(['auth', 'keys']);
    expect(unnamed.code).not.toBe(0);
    expect(unnamed.stderr).toMatch(/--keys <file>/);
  });
});
