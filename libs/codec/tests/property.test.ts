// Property-based tests (fast-check): round trips, canonical determinism, agreement with an
// independent MessagePack implementation, and clean failure on arbitrary bytes.
import { decode as msgpackDecode, encode as msgpackEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorreioError, DecodeError, Decoder, Encoder, MessageCodec, TooLargeError, decode, encode } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Any Unicode text (astral included), without lone surrogates, which have no UTF-8 form. */
const text = (maxLength = 24) => fc.string({ unit: 'binary', maxLength }).filter((value) => !LONE_SURROGATE.test(value));
const key = text(12).filter((value) => value !== '__proto__');

/** A v1 value: nil, booleans, safe integers, strings, binary, arrays and string-keyed maps. No floats. */
const v1Value: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 6 },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -200, max: 70_000 }),
    text(),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(key, tie('value'), { maxKeys: 18, noNullPrototype: true }),
  ),
})).value;

/** A deep copy whose maps insert their keys in an order derived from `seed`, not the original one. */
function reordered(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item, i) => reordered(item, seed + i));
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  const keys = Object.keys(value);
  let state = seed >>> 0 || 1;
  for (let i = keys.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    const j = state % (i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const name of keys) out[name] = reordered((value as Record<string, unknown>)[name], seed * 31 + name.length);
  return out;
}

function onlyCorreioCodes(run: () => unknown, codes: readonly string[]): void {
  try {
    run();
  } catch (error) {
    if (!(error instanceof CorreioError) || !codes.includes(error.code)) throw error;
  }
}

describe('raw values', () => {
  it('round-trip: decode(encode(v)) equals v', () => {
    fc.assert(
      fc.property(v1Value, (value) => {
        expect(decode(encode(value))).toEqual(value);
      }),
      { numRuns: 600 },
    );
  });

  it('encode is deterministic whatever the key insertion order', () => {
    fc.assert(
      fc.property(v1Value, fc.integer(), (value, seed) => {
        expect(Buffer.from(encode(reordered(value, seed))).equals(Buffer.from(encode(value)))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('our bytes decode to the same value with @msgpack/msgpack', () => {
    fc.assert(
      fc.property(v1Value, (value) => {
        expect(msgpackDecode(encode(value), { useBigInt64: false })).toEqual(value);
      }),
      { numRuns: 600 },
    );
  });

  it('@msgpack/msgpack bytes of map-free values are byte-identical to ours', () => {
    const mapFree: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', maxDepth: 5 },
        fc.constant(null),
        fc.boolean(),
        fc.maxSafeInteger(),
        fc.integer({ min: -70_000, max: 70_000 }),
        text(300),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(tie('value'), { maxLength: 20 }),
      ),
    })).value;
    fc.assert(
      fc.property(mapFree, (value) => {
        expect(Buffer.from(encode(value)).toString('hex')).toBe(Buffer.from(msgpackEncode(value, { useBigInt64: false })).toString('hex'));
      }),
      { numRuns: 600 },
    );
  });

  it('every decoded string re-encodes to the same bytes (no lossy UTF-8)', () => {
    fc.assert(
      fc.property(text(200), (value) => {
        const bytes = encode(value);
        expect(Buffer.from(encode(decode(bytes))).equals(Buffer.from(bytes))).toBe(true);
      }),
    );
  });

  it('integers round-trip across every width', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_SAFE, max: MAX_SAFE }), (value) => {
        expect(decode(encode(value))).toBe(value);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('arbitrary bytes', () => {
  const decoder = new Decoder();

  it('never throw anything but DecodeError or TooLargeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyCorreioCodes(() => decoder.decode(bytes), ['DECODE', 'TOO_LARGE']);
      }),
      { numRuns: 5_000 },
    );
  });

  it('bytes built from MessagePack-looking fragments fail cleanly too', () => {
    const fragment = fc.oneof(
      fc.constantFrom(0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xca, 0xcb, 0xcf, 0xd3, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff).map((byte) => [byte]),
      fc.uint8Array({ minLength: 1, maxLength: 5 }).map((bytes) => [...bytes]),
      v1Value.map((value) => [...encode(value)]),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (fragments) => {
        onlyCorreioCodes(() => decoder.decode(Uint8Array.from(fragments.flat())), ['DECODE', 'TOO_LARGE']);
      }),
      { numRuns: 3_000 },
    );
  });

  it('corrupting a valid encoding fails cleanly or decodes to something re-encodable', () => {
    fc.assert(
      fc.property(v1Value, fc.nat(), fc.integer({ min: 0, max: 255 }), (value, at, byte) => {
        const bytes = encode(value);
        if (bytes.byteLength === 0) return;
        bytes[at % bytes.byteLength] = byte;
        let decoded: unknown;
        try {
          decoded = decoder.decode(bytes);
        } catch (error) {
          expect(error instanceof DecodeError || error instanceof TooLargeError).toBe(true);
          return;
        }
        expect(() => encode(decoded)).not.toThrow();
      }),
      { numRuns: 2_000 },
    );
  });

  it('MessageCodec rejects arbitrary bytes only with protocol error codes', () => {
    const codec = new MessageCodec();
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), v1Value.map((value) => encode(value))), (bytes) => {
        onlyCorreioCodes(() => codec.decode(bytes), ['DECODE', 'TOO_LARGE', 'VALIDATION', 'UNSUPPORTED_VERSION', 'UNKNOWN_TYPE']);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('envelopes', () => {
  const userName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,32}$/);
  const channelName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
  const nodeId = fc.stringMatching(/^[\x21-\x7e]{1,128}$/);
  const uint = fc.integer({ min: 0, max: MAX_SAFE });
  const messageText = fc.string({ unit: 'binary', minLength: 1, maxLength: 4000 }).filter((value) => !LONE_SURROGATE.test(value));
  const opId = fc.record({ origin: nodeId, seq: fc.integer({ min: 1, max: MAX_SAFE }) });
  const hlc = fc.tuple(uint, fc.integer({ min: 0, max: 4_294_967_295 }));

  const bodies: Array<[string, fc.Arbitrary<Record<string, unknown>>]> = [
    ['chat.login.request', fc.record({ user: userName })],
    ['chat.publish.request', fc.record({ user: userName, channel: channelName, text: messageText })],
    ['chat.history.request', fc.record({ channel: channelName, limit: fc.integer({ min: 1, max: 500 }), before: nodeId }, { requiredKeys: ['channel'] })],
    ['clock.adjust.request', fc.record({ round: uint, adjust_ms: fc.maxSafeInteger() })],
    ['chat.direct', fc.record({ op: opId, from: userName, to: userName, text: messageText, lc: uint, hlc, ts: uint })],
    [
      'replica.op',
      fc.record({
        op: opId,
        lc: uint,
        hlc,
        kind: fc.constant('publish'),
        data: fc.record({ user: userName, channel: channelName, text: messageText }),
      }),
    ],
    ['service.call.request', fc.record({ action: fc.constant('users.get'), params: v1Value, meta: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/).filter((name) => name !== '__proto__'), text(40), { maxKeys: 32, noNullPrototype: true }) }, { requiredKeys: ['action'] })],
  ];

  it.each(bodies)('%s: generated valid envelopes round-trip through MessageCodec', (type, body) => {
    const codec = new MessageCodec();
    const envelope = fc.record({
      v: fc.constant(1),
      type: fc.constant(type),
      id: fc.stringMatching(/^[0-9A-Za-z_-]{1,64}$/),
      from: nodeId,
      lc: uint,
      ts: uint,
      body,
    });
    fc.assert(
      fc.property(envelope, (value) => {
        const bytes = codec.encode(value as AnyEnvelope);
        expect(codec.decode(bytes)).toEqual(value);
        expect(Buffer.from(new Encoder().encode(value)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
