// Token issue and verification, and every token attack a verifier must refuse with its reason.
import { statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeyRing, TokenAuthority, readKeySet, rotateKeySet, signWith, signingKeyRecord, tokenAttacks, writeKeySet, newKeyRecord } from '@correio/identity';
import { scratchDir, type ScratchDir } from '@correio/testing';

let scratch: ScratchDir;
let path: string;
const rings: KeyRing[] = [];

async function ring(file = path): Promise<KeyRing> {
  const opened = await KeyRing.open(file, { create: true, checkIntervalMs: 0 });
  rings.push(opened);
  return opened;
}

beforeEach(() => {
  scratch = scratchDir('correio-identity-');
  path = join(scratch.dir, 'auth-keys.json');
});
afterEach(() => {
  for (const opened of rings.splice(0)) opened.close();
  scratch.remove();
});

describe('TokenAuthority', () => {
  it('issues an access and a refresh token that verify for their own use only, with the claims', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const issued = await authority.issue('ana', { cred: 'srv-1:3' });
    const access = await authority.verify(issued.token, 'access');
    expect(access).toMatchObject({ ok: true, claims: { sub: 'ana', use: 'access', cred: 'srv-1:3' } });
    expect(await authority.verify(issued.refresh_token, 'refresh')).toMatchObject({ ok: true, claims: { use: 'refresh' } });
    expect(await authority.verify(issued.refresh_token, 'access')).toMatchObject({ ok: false, reason: 'wrong_use' });
    expect(await authority.verify(issued.token, 'refresh')).toMatchObject({ ok: false, reason: 'wrong_use' });
    expect(issued.expires_at - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(issued.refresh_expires_at - Date.now()).toBeGreaterThan(6 * 86_400_000);
    const header = JSON.parse(Buffer.from(issued.token.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'JWT', kid: (await ring()).kids()[0] });
  });

  it('issues the same tokens again for the same once (a retried login), others for another', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const once = { id: 'srv-1:42', at: Date.now() - 5_000 };
    const first = await authority.issue('ana', { cred: 'srv-1:3', once });
    expect(await authority.issue('ana', { cred: 'srv-1:3', once })).toEqual(first);
    expect((await authority.issue('ana', { cred: 'srv-1:3', once: { ...once, id: 'srv-1:43' } })).token).not.toBe(first.token);
    expect((await authority.verify(first.token, 'access')).ok).toBe(true);
  });

  it('open-mode tokens carry no cred', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const verdict = await authority.verify((await authority.issue('ana')).token, 'access');
    expect(verdict.ok).toBe(true);
    expect(verdict.ok && 'cred' in verdict.claims).toBe(false);
  });

  it('keeps iat at or after notBeforeMs (a logout), so tokens issued just after it are not revoked by it', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const logout = Date.now() + 1_500;
    const verdict = await authority.verify((await authority.issue('ana', { notBeforeMs: logout })).token, 'access');
    expect(verdict.ok && verdict.claims.iat * 1000).toBeGreaterThanOrEqual(logout);
  });

  it('puts roles in the access token only, and refuses a roles claim that is not a short list of strings', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const issued = await authority.issue('ana', { cred: 'srv-1:3', roles: ['operator'] });
    expect(await authority.verify(issued.token, 'access')).toMatchObject({ ok: true, claims: { sub: 'ana', roles: ['operator'] } });
    expect(await authority.verify(issued.refresh_token, 'refresh')).toMatchObject({ ok: true, claims: { roles: [] } });
    expect(await authority.verify((await authority.issue('rui')).token, 'access')).toMatchObject({ ok: true, claims: { roles: [] } });
    const active = signingKeyRecord(readKeySet(path))!;
    const now = Math.floor(Date.now() / 1000);
    const forged = (roles: unknown) => signWith(active.jwk, active.kid, { iss: 'correio', aud: 'correio', sub: 'ana', iat: now, exp: now + 60, jti: 'j', use: 'access', roles });
    for (const roles of ['operator', [1], Array.from({ length: 17 }, () => 'operator'), { operator: true }]) {
      expect(await authority.verify(await forged(roles), 'access'), JSON.stringify(roles)).toMatchObject({ ok: false, reason: 'bad_claims' });
    }
  });

  it('refuses every token attack with its reason', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    const attacks = await tokenAttacks(path, { user: 'ana', cred: 'srv-1:3' });
    expect(attacks.map((attack) => attack.name)).toEqual([
      'signed by a foreign key under a known kid',
      'signed by a foreign key under an unknown kid',
      'expired',
      'tampered payload (another user)',
      'tampered signature',
      'alg none',
      'HS256 signed with the public key bytes',
      'wrong audience',
      'wrong issuer',
      'a refresh token used as an access token',
    ]);
    for (const attack of attacks) {
      const verdict = await authority.verify(attack.token, 'access');
      expect(verdict, attack.name).toMatchObject({ ok: false, reason: attack.reason });
    }
  });

  it('refuses a token past exp only beyond the 30 s tolerance', async () => {
    let now = Date.now();
    const authority = new TokenAuthority({ keys: await ring(), accessTtlMs: 60_000, now: () => now });
    const { token } = await authority.issue('ana');
    now += 60_000 + 20_000;
    expect((await authority.verify(token, 'access')).ok).toBe(true);
    now += 20_000;
    expect(await authority.verify(token, 'access')).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('refuses another issuer and another audience configured on the verifier', async () => {
    const keys = await ring();
    const { token } = await new TokenAuthority({ keys }).issue('ana');
    expect(await new TokenAuthority({ keys, issuer: 'other' }).verify(token, 'access')).toMatchObject({ ok: false, reason: 'wrong_issuer' });
    expect(await new TokenAuthority({ keys, audience: 'other' }).verify(token, 'access')).toMatchObject({ ok: false, reason: 'wrong_audience' });
  });

  it('refuses garbage without throwing', async () => {
    const authority = new TokenAuthority({ keys: await ring() });
    for (const token of ['', 'a.b.', 'a.b.c', '...', 'x'.repeat(5000), `${'e'.repeat(4000)}.a.b`, 42, null, 'eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln']) {
      const verdict = await authority.verify(token, 'access');
      expect(verdict.ok, String(token).slice(0, 20)).toBe(false);
    }
  });
});

describe('verified tokens remembered', () => {
  it('checks the signature of a token text once, and again after its kid gets another key', async () => {
    const keys = await ring();
    const authority = new TokenAuthority({ keys });
    const { token } = await authority.issue('ana', { cred: 'srv-1:3' });
    const signatureChecks = vi.spyOn(globalThis.crypto.subtle, 'verify');
    try {
      for (let i = 0; i < 5; i++) expect(await authority.verify(token, 'access')).toMatchObject({ ok: true, claims: { sub: 'ana', cred: 'srv-1:3' } });
      expect(signatureChecks).toHaveBeenCalledTimes(1);
      expect(await authority.verify(token, 'refresh')).toMatchObject({ ok: false, reason: 'wrong_use' });
      expect(signatureChecks).toHaveBeenCalledTimes(1);
      // The same kid now names another key (a replaced file): the remembered check no longer counts.
      const [kid] = keys.kids();
      writeKeySet(path, { keys: [{ ...(await newKeyRecord()), kid: kid! }] });
      await keys.reload();
      expect(await authority.verify(token, 'access')).toMatchObject({ ok: false, reason: 'bad_signature' });
      expect(signatureChecks).toHaveBeenCalledTimes(2);
    } finally {
      signatureChecks.mockRestore();
    }
  });

  it('never remembers a refused token, and with a cache size of 0 checks every time', async () => {
    const keys = await ring();
    const uncached = new TokenAuthority({ keys, verifiedCacheSize: 0 });
    const { token } = await uncached.issue('ana');
    // A character inside the signature (all six of its bits are signature bits, unlike the last one's).
    const at = token.length - 10;
    const tampered = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
    const signatureChecks = vi.spyOn(globalThis.crypto.subtle, 'verify');
    try {
      for (let i = 0; i < 3; i++) expect((await uncached.verify(token, 'access')).ok).toBe(true);
      expect(signatureChecks).toHaveBeenCalledTimes(3);
      const cached = new TokenAuthority({ keys });
      for (let i = 0; i < 3; i++) expect(await cached.verify(tampered, 'access')).toMatchObject({ ok: false, reason: 'bad_signature' });
      expect(signatureChecks).toHaveBeenCalledTimes(6);
    } finally {
      signatureChecks.mockRestore();
    }
  });

  it('remembers at most its capacity of tokens, dropping the oldest', async () => {
    const authority = new TokenAuthority({ keys: await ring(), verifiedCacheSize: 2 });
    const [a, b, c] = await Promise.all(['ana', 'rui', 'eva'].map(async (user) => (await authority.issue(user)).token));
    for (const token of [a, b, c]) expect((await authority.verify(token, 'access')).ok).toBe(true);
    const signatureChecks = vi.spyOn(globalThis.crypto.subtle, 'verify');
    try {
      expect((await authority.verify(c, 'access')).ok).toBe(true);
      expect(signatureChecks).toHaveBeenCalledTimes(0);
      expect((await authority.verify(a, 'access')).ok).toBe(true); // dropped when c came in
      expect(signatureChecks).toHaveBeenCalledTimes(1);
    } finally {
      signatureChecks.mockRestore();
    }
  });
});

describe('key rotation', () => {
  it('signs with the new key; the old key verifies until its retire_at, then is retired', async () => {
    let now = Date.now();
    const keys = await ring();
    const authority = new TokenAuthority({ keys, now: () => now });
    const old = await authority.issue('ana');
    const [oldKid] = keys.kids();
    const newKid = await rotateKeySet(path, 3_600_000, now);
    await keys.reload();
    expect(keys.kids()).toEqual([oldKid, newKid]);
    expect(readKeySet(path).keys[0]!.retire_at).toBe(now + 3_600_000);
    const fresh = await authority.issue('ana');
    expect(JSON.parse(Buffer.from(fresh.token.split('.')[0]!, 'base64url').toString())).toMatchObject({ kid: newKid });
    expect((await authority.verify(old.refresh_token, 'refresh')).ok).toBe(true);
    now += 3_600_000 + 1;
    expect(await authority.verify(old.refresh_token, 'refresh')).toMatchObject({ ok: false, reason: 'retired_key' });
    expect((await authority.verify(fresh.refresh_token, 'refresh')).ok).toBe(true);
  });

  it('a token signed by a key the file marks retired is refused (the attack list includes it)', async () => {
    const retiredKey = await newKeyRecord(Date.now() - 10_000);
    const current = await newKeyRecord();
    writeKeySet(path, { keys: [{ ...retiredKey, retire_at: Date.now() - 1 }, current] });
    const authority = new TokenAuthority({ keys: await ring() });
    const attacks = await tokenAttacks(path, { user: 'ana' });
    const retired = attacks.find((attack) => attack.reason === 'retired_key')!;
    expect(await authority.verify(retired.token, 'access')).toMatchObject({ ok: false, reason: 'retired_key' });
    const direct = await signWith(current.jwk, current.kid, { iss: 'correio', aud: 'correio', sub: 'ana', iat: 1, exp: 2 ** 40, jti: 'j', use: 'access' });
    expect((await authority.verify(direct, 'access')).ok).toBe(true);
  });

  it('reloads a changed file when its mtime changes, and keeps the old keys when the new file is broken', async () => {
    const keys = await ring();
    const second = await ring(path); // another server sharing the file
    const kid = await rotateKeySet(path, 1_000_000);
    utimesSync(path, new Date(), new Date(Date.now() + 5_000));
    await second.reloadIfChanged();
    expect(second.kids()).toContain(kid);
    writeFileSync(path, '{ not json');
    utimesSync(path, new Date(), new Date(statSync(path).mtimeMs + 5_000));
    await keys.reloadIfChanged();
    expect(keys.kids()).toHaveLength(1); // the broken file was not loaded: the first ring keeps its key
  });

  it('creates the file once, mode 0600, when several rings open it at once', async () => {
    const opened = await Promise.all([ring(), ring(), ring()]);
    expect(new Set(opened.map((one) => one.kids()[0])).size).toBe(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
