// Documents checked against a program's section of the config schema, merged without prototype
// surprises, and changes applied live or reported as needing a restart.
import { describe, expect, it } from 'vitest';
import { applyChanges, changedKeys, checkDocument, effectiveSettings, liveSettingKeys, parseSettings, registerLiveSetting } from '@correio/config';

describe('checkDocument', () => {
  it('accepts a section as the config file would, and names every bad field with what it expects', () => {
    expect(checkDocument('server', '{"logLevel":"debug","pageSize":25}')).toEqual({ ok: true, settings: { logLevel: 'debug', pageSize: 25 } });
    const refused = checkDocument('server', '{"logLevel":"loud","pageSise":3}');
    expect(refused.ok).toBe(false);
    const problems = refused.ok ? [] : refused.problems;
    expect(problems.map((problem) => problem.field).sort()).toEqual(['logLevel', 'pageSise']);
    expect(problems.find((problem) => problem.field === 'pageSise')!.message).toContain('did you mean "pageSize"');
  });

  it('refuses what is not a document, hostile keys, unknown programs and oversized text, without throwing', () => {
    for (const text of ['', 'null', '[]', '"x"', '{', '{"__proto__":{"logLevel":"debug"}}', '{"constructor":{}}', `{"x":"${'y'.repeat(4_000)}"}`]) {
      expect(checkDocument('broker', text).ok, text.slice(0, 30)).toBe(false);
    }
    expect(checkDocument('client', '{}')).toMatchObject({ ok: false, problems: [{ field: '' }] });
    expect(checkDocument('toString', '{}').ok).toBe(false);
  });
});

describe('effective settings', () => {
  it('puts the instance keys over the kind, on objects without a prototype', () => {
    const merged = effectiveSettings({ logLevel: 'info', pageSize: 5 }, { pageSize: 7 });
    expect({ ...merged }).toEqual({ logLevel: 'info', pageSize: 7 });
    const hostile = parseSettings('{"__proto__":{"polluted":true}}');
    expect(Object.getPrototypeOf(hostile)).toBeNull();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(parseSettings('not json')).toEqual({});
  });
});

describe('live settings', () => {
  it('applies registered keys, reports the rest as needing a restart, and the failures', () => {
    const seen: unknown[] = [];
    const unregister = registerLiveSetting('rateLimit', (value) => {
      if (value === 'bad') throw new RangeError('not a rate');
      seen.push(value);
    });
    try {
      expect(liveSettingKeys()).toEqual(['logLevel', 'rateLimit']);
      expect(changedKeys({ a: 1, b: [1] }, { a: 1, b: [2], c: true })).toEqual(['b', 'c']);
      expect(applyChanges({ rateLimit: 5 }, { rateLimit: 10, pageSize: 3 })).toEqual({ applied: ['rateLimit'], restart: ['pageSize'], failed: [] });
      expect(applyChanges({ rateLimit: 10 }, { rateLimit: 'bad' })).toEqual({ applied: [], restart: [], failed: [{ key: 'rateLimit', error: 'not a rate' }] });
      expect(applyChanges({ rateLimit: 10 }, {})).toEqual({ applied: ['rateLimit'], restart: [], failed: [] });
      expect(seen).toEqual([10, undefined]);
      expect(applyChanges({}, { logLevel: 'loud' }).failed).toHaveLength(1);
    } finally {
      unregister();
    }
    expect(liveSettingKeys()).toEqual(['logLevel']);
  });
});
