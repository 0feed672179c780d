// The vector generator's parts: the reference encoder, the JSON convention, the oracle's order of
// checks, the mutation proposals and the sample checks.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSchemas } from '../src/schemas.js';
import { generateVectors } from '../src/vectors.js';
import { formatVectorFile, fromHex, fromJson, toHex, toJson, type V1Value } from '../src/vectors-format.js';
import { applyEdit, envelope } from '../src/vectors-messages.js';
import { proposeEdits } from '../src/vectors-mutations.js';
import { Oracle } from '../src/vectors-oracle.js';
import { arrayHeader, compareUtf8, mapHeader, referenceEncode } from '../src/vectors-reference.js';
import { VECTOR_SAMPLES } from '../src/vector-samples.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const set = loadSchemas(ROOT);
const oracle = new Oracle(set);
const hexOf = (value: V1Value, options?: Parameters<typeof referenceEncode>[1]) => toHex(referenceEncode(value, options));

describe('reference encoder', () => {
  it('takes container headers from @msgpack/msgpack', () => {
    expect(toHex(arrayHeader(15))).toBe('9f');
    expect(toHex(arrayHeader(16))).toBe('dc0010');
    expect(toHex(arrayHeader(65_536))).toBe('dd00010000');
    expect(toHex(mapHeader(15))).toBe('8f');
    expect(toHex(mapHeader(16))).toBe('de0010');
    expect(toHex(mapHeader(65_535))).toBe('deffff');
  });

  it('orders keys by UTF-8 bytes, not by UTF-16 units or JS property order', () => {
    expect(['\u{10000}', '\uffff', 'é', 'z', '10', '9', '1'].sort(compareUtf8)).toEqual(['1', '10', '9', 'z', 'é', '\uffff', '\u{10000}']);
    expect(hexOf({ '10': 1, '9': 2, '1': 3 })).toBe('83a13103a2313001a13902');
  });

  it('writes non-canonical forms on request', () => {
    expect(hexOf({ b: 1, a: -1 }, { reverseKeys: true, wideIntegers: true })).toBe('82a162cf0000000000000001a161d3ffffffffffffffff');
  });

  it('refuses what v1 cannot carry', () => {
    expect(() => referenceEncode(1.5)).toThrow(/not a v1 integer/);
    expect(() => referenceEncode(2 ** 53)).toThrow(/not a v1 integer/);
  });
});

describe('JSON form', () => {
  it('writes binary as {"$bin": hex} and reads it back', () => {
    const value: V1Value = { a: Uint8Array.of(0, 255), b: [Uint8Array.of()], $bin: 'not binary', c: 1 };
    const json = toJson(value);
    expect(json).toEqual({ a: { $bin: '00ff' }, b: [{ $bin: '' }], $bin: 'not binary', c: 1 });
    expect(fromJson(json)).toEqual(value);
  });

  it('refuses a map whose only key is $bin, which would read back as binary', () => {
    expect(() => toJson({ $bin: '00' })).toThrow(/\$bin/);
  });

  it('formats one case per line, escaping invisible characters, as valid JSON', () => {
    const text = formatVectorFile({ version: 1 }, {
      valid: [{ description: 'bom', value: '\ufeffa\u0301\u200f😀', bytes: fromHex('a9efbbbf61cc81e2808ff09f9880') }],
      decodeOnly: [],
      invalid: [{ description: 'nul', bytes: fromHex('c1'), error: 'DECODE' }],
    });
    expect(text.trimEnd().split('\n')).toHaveLength(10);
    expect(text).toContain('\\ufeffa\\u0301\\u200f😀');
    expect(JSON.parse(text).valid[0].value).toBe('\ufeffa\u0301\u200f😀');
  });
});

describe('oracle', () => {
  const login = envelope('chat.login.request', { user: 'ana' });

  it('follows the order of ENCODING.md §3', () => {
    expect(oracle.classify(login)).toBeUndefined();
    expect(oracle.classify([login])).toBe('VALIDATION');
    expect(oracle.classify({ ...login, v: '1' })).toBe('VALIDATION');
    expect(oracle.classify({ v: 2 })).toBe('UNSUPPORTED_VERSION');
    expect(oracle.classify({ ...login, id: '' })).toBe('VALIDATION');
    expect(oracle.classify({ ...login, type: 'no.such', body: [] })).toBe('VALIDATION');
    expect(oracle.classify({ ...login, type: 'no.such', body: { x: 1 } })).toBe('UNKNOWN_TYPE');
    expect(oracle.classify({ ...login, body: {} })).toBe('VALIDATION');
    expect(oracle.classify({ ...login, body: { user: 'a'.repeat(65_537) } })).toBe('TOO_LARGE');
  });

  it('treats binary as matching untyped schemas only', () => {
    expect(oracle.classify({ ...login, body: new Uint8Array(0) })).toBe('VALIDATION');
    expect(oracle.classify({ ...login, body: { user: new Uint8Array(Buffer.from('ana')) } })).toBe('VALIDATION');
    expect(oracle.classify(envelope('service.call.request', { action: 'a.b', params: Uint8Array.of(1) }))).toBeUndefined();
  });
});

describe('mutations', () => {
  it('propose boundaries and violations that the schema bears out', () => {
    const edits = [...proposeEdits(oracle, oracle.body('chat.login.request'), { user: 'ana' })];
    const outcome = (what: string) => {
      const found = edits.find((edit) => edit.what === what);
      if (!found) throw new Error(`no edit ${what}`);
      return oracle.classify(envelope('chat.login.request', applyEdit({ user: 'ana' }, found.path, found.value)));
    };
    expect(outcome('at maxLength 32')).toBeUndefined();
    expect(outcome('longer than maxLength 32')).toBe('VALIDATION');
    expect(outcome('missing required property user')).toBe('VALIDATION');
    expect(outcome('does not match ^[A-Za-z0-9_.-]{1,32}$: a trailing newline')).toBe('VALIDATION');
  });

  it('apply without touching the original', () => {
    const body = { a: { b: [1, 2] }, c: 3 };
    expect(applyEdit(body, ['a', 'b', 1], 9)).toEqual({ a: { b: [1, 9] }, c: 3 });
    expect(applyEdit(body, ['c'], undefined)).toEqual({ a: { b: [1, 2] } });
    expect(body).toEqual({ a: { b: [1, 2] }, c: 3 });
  });
});

describe('generateVectors', () => {
  it('produces identical output on every run', () => {
    const first = generateVectors(set);
    const second = generateVectors(set);
    expect([...second.files.keys()]).toEqual([...first.files.keys()]);
    for (const [path, content] of first.files) expect(second.files.get(path), path).toBe(content);
  });

  it('has samples for every message type with a schema, and no samples for types without one', () => {
    const { warnings } = generateVectors(set);
    expect(warnings).toEqual([]);
    expect(Object.keys(VECTOR_SAMPLES).sort()).toEqual(set.messages.map((message) => message.type));
  });

  it('warns about a type without samples and about samples without a schema', () => {
    const samples = { ...VECTOR_SAMPLES, 'chat.future.request': [{ description: 'x', body: {} }] };
    delete (samples as Record<string, unknown>)['clock.poll.request'];
    const { warnings, files } = generateVectors(set, samples);
    expect(warnings).toEqual([
      expect.stringMatching(/^clock\.poll\.request: no samples/),
      expect.stringMatching(/^chat\.future\.request: skipped, protocol\/schemas\/v1\/chat\.future\.request\.json does not exist/),
    ]);
    expect(files.has('messages/clock.poll.request.json')).toBe(false);
  });

  it('fails on a sample its schema rejects, naming it', () => {
    const samples = { ...VECTOR_SAMPLES, 'chat.login.request': [{ description: 'a bad one', body: { user: 'has space' } }] };
    expect(() => generateVectors(set, samples)).toThrow(/chat\.login\.request sample "a bad one" is not valid \(VALIDATION\)/);
  });
});
