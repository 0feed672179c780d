// Password hashing: scrypt with the parameters in the record, constant-time verification, and
// records this process cannot or must not compute.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT, hashPassword, verifyNothing, verifyPassword } from '@correio/identity';

describe('passwords', () => {
  it('hash with a fresh salt and the default parameters, and verify', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    expect(first).toMatchObject({ alg: 'scrypt', ...DEFAULT_SCRYPT });
    expect(first.salt).not.toBe(second.salt);
    expect(first.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery staple', first)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', first)).toBe(false);
    expect(await verifyPassword('', first)).toBe(false);
  });

  it('verify with the parameters the record carries', async () => {
    const cheap = await hashPassword('olá, mundo 🔑', { n: 1024, r: 8, p: 1 });
    expect(cheap.n).toBe(1024);
    expect(await verifyPassword('olá, mundo 🔑', cheap)).toBe(true);
    // Unicode is compared after NFC: the decomposed form of the same text matches.
    expect(await verifyPassword('ola\u0301, mundo 🔑', cheap)).toBe(true);
  });

  it('never match a record with unusable parameters, and never throw', async () => {
    const good = await hashPassword('password1', { n: 1024, r: 8, p: 1 });
    for (const record of [
      { ...good, n: 1000 }, // not a power of two
      { ...good, n: 2 ** 20, r: 32 }, // 4 GiB: more memory than allowed
      { ...good, salt: 'AA' },
      { ...good, hash: 'AA' },
      { ...good, alg: 'argon2id' as 'scrypt' },
    ]) {
      expect(await verifyPassword('password1', record)).toBe(false);
    }
    expect(await verifyNothing('password1')).toBe(false);
  });

  it('take a 1024-code-point password', async () => {
    const long = '🔑'.repeat(1024);
    const record = await hashPassword(long, { n: 1024, r: 8, p: 1 });
    expect(await verifyPassword(long, record)).toBe(true);
  });
});
