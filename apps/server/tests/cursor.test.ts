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
    fc.assert(fc.property(fc.stringMatching(/^[\x21-\x7e]{1,256}$/), (text) => {
      const key = decodeCursor(text);
      if (key !== undefined) expect(encodeCursor(key)).toBe(text);
    }));
  });
});
