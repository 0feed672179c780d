import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type OrderKey } from '@correio/server';

const orderKey = fc.tuple(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.stringMatching(/^[\x21-\x7e]{1,128}$/),
  fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
) as fc.Arbitrary<OrderKey>;

describe('paging cursors', () => {
  it('round-trip every order key, within the protocol`s 256 printable characters', () => {
    fc.assert(
      fc.property(orderKey, (key) => {
        const cursor = encodeCursor(key);
        expect(cursor).toMatch(/^[\x21-\x7e]{1,256}$/);
        expect(decodeCursor(cursor)).toEqual(key);
      }),
      { numRuns: 500 },
    );
    expect(encodeCursor([Number.MAX_SAFE_INTEGER, 2 ** 32 - 1, '"'.repeat(128), Number.MAX_SAFE_INTEGER]).length).toBeLessThanOrEqual(256);
  });

  it('refuse anything this server did not issue', () => {
    const valid = encodeCursor([1_700_000_000_000, 0, 's1', 7]);
    for (const foreign of ['', 'abc', 'not a cursor', `${valid}A`, valid.slice(0, -2), Buffer.from('{"wall":1}').toString('base64url'), '!!!!']) {
      expect(decodeCursor(foreign), foreign).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.stringMatching(/^[\x21-\x7e]{1,256}$/), (text) => {
        expect(decodeCursor(text)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('accept a cursor`s bytes exactly when every field is in range, and read back those fields', () => {
    // Bytes in the cursor layout, each field valid four times in five and otherwise anything (its
    // edges included), so that accepted and refused cursors are both common.
    const mostlyValid = <T>(valid: fc.Arbitrary<T>, any: fc.Arbitrary<T>) => fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: any, weight: 1 });
    const safe = fc.bigInt({ min: 1n, max: 2n ** 53n - 1n });
    const u64 = fc.oneof(fc.constantFrom(0n, 2n ** 53n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    const layout = fc.record({
      version: mostlyValid(fc.constant(1), fc.integer({ min: 0, max: 255 })),
      wall: mostlyValid(fc.oneof(fc.constant(0n), safe), u64),
      logical: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      seq: mostlyValid(safe, u64),
      origin: mostlyValid(fc.stringMatching(/^[\x21-\x7e]{1,128}$/).map((text) => Buffer.from(text)), fc.uint8Array({ maxLength: 140 }).map((bytes) => Buffer.from(bytes))),
    });
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(layout, ({ version, wall, logical, seq, origin }) => {
        const bytes = Buffer.alloc(21 + origin.length);
        bytes.writeUInt8(version, 0);
        bytes.writeBigUInt64BE(wall, 1);
        bytes.writeUInt32BE(logical, 9);
        bytes.writeBigUInt64BE(seq, 13);
        origin.copy(bytes, 21);
        const text = origin.toString('latin1');
        const inRange = version === 1 && wall <= 2n ** 53n - 1n && seq >= 1n && seq <= 2n ** 53n - 1n && /^[\x21-\x7e]{1,128}$/.test(text);
        const key = decodeCursor(bytes.toString('base64url'));
        if (inRange) {
          accepted += 1;
          expect(key).toEqual([Number(wall), logical, text, Number(seq)]);
        } else {
          refused += 1;
          expect(key).toBeUndefined();
        }
      }),
      { numRuns: 1_000 },
    );
    // Both outcomes were exercised, not just one.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('never read an altered cursor as the key it was issued for', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    fc.assert(
      fc.property(orderKey, fc.nat(), fc.integer({ min: 1, max: alphabet.length - 1 }), (key, at, shift) => {
        const cursor = encodeCursor(key);
        const index = at % cursor.length;
        const altered = cursor.slice(0, index) + alphabet[(alphabet.indexOf(cursor[index]!) + shift) % alphabet.length] + cursor.slice(index + 1);
        const read = decodeCursor(altered);
        // Refused, or the canonical cursor of another key: never the original key.
        if (read === undefined) return;
        expect(read).not.toEqual(key);
        expect(encodeCursor(read)).toBe(altered);
      }),
      { numRuns: 500 },
    );
  });
});
