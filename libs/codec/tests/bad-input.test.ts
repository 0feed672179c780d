// Hostile and broken input: every failure must be a typed CorreioError (DecodeError or
// TooLargeError for bytes), never a crash, a hang, another exception type or prototype pollution.
import { afterEach, describe, expect, it } from 'vitest';
import { CorreioError, DecodeError, Decoder, DEFAULT_LIMITS, Encoder, MessageCodec, TooLargeError, ValidationError, decode, encode } from '@correio/codec';
import { hex, loadMessageFiles, loadVectorFile } from './vector-files.js';

type ErrorClass = typeof DecodeError | typeof TooLargeError;

function failure(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected the input to be rejected');
}

function expectRejected(bytes: Uint8Array, kind: ErrorClass, decoder: Decoder = new Decoder()): CorreioError {
  const error = failure(() => decoder.decode(bytes));
  expect(error).toBeInstanceOf(kind);
  return error as CorreioError;
}

/** Decoding either succeeds or throws a DecodeError/TooLargeError; anything else fails the test. */
function decodesOrRejectsCleanly(bytes: Uint8Array, decoder: Decoder): void {
  try {
    decoder.decode(bytes);
  } catch (error) {
    if (!(error instanceof DecodeError || error instanceof TooLargeError)) throw error;
  }
}

function cat(...parts: Array<Uint8Array | number[] | string>): Uint8Array {
  return new Uint8Array(Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'hex') : Buffer.from(part)))));
}

/** A fixmap of one entry, key and value already encoded. */
function entry(key: Uint8Array, value: Uint8Array): Uint8Array {
  return cat([0x81], key, value);
}

const codecFile = loadVectorFile('codec.json');
/** Real messages of every type: the first valid envelope of each message file. */
const messages = loadMessageFiles()
  .filter((file) => file.valid.length > 0)
  .map((file) => ({ name: file.name, bytes: hex(file.valid[0]!.msgpack_hex) }));

describe('truncation', () => {
  it('rejects every strict prefix of a real message of each type with DecodeError', () => {
    expect(messages.length).toBeGreaterThan(10);
    const decoder = new Decoder();
    for (const { bytes } of messages) {
      for (let length = 0; length < bytes.byteLength; length++) expectRejected(bytes.subarray(0, length), DecodeError, decoder);
    }
  });

  it('rejects every strict prefix of every codec value with DecodeError', () => {
    const decoder = new Decoder();
    for (const entry of codecFile.valid.filter((item) => item.msgpack_hex.length < 4_096)) {
      const bytes = hex(entry.msgpack_hex);
      for (let length = 0; length < bytes.byteLength; length++) expectRejected(bytes.subarray(0, length), DecodeError, decoder);
    }
  });

  it('reports truncated messages through MessageCodec as DECODE', () => {
    const codec = new MessageCodec();
    for (const { bytes } of messages) {
      const error = failure(() => codec.decode(bytes.subarray(0, bytes.byteLength - 1)));
      expect(error).toBeInstanceOf(DecodeError);
    }
  });
});

describe('trailing bytes', () => {
  it('rejects any byte after a complete message', () => {
    const decoder = new Decoder();
    for (const { bytes } of messages) {
      for (const extra of [[0x00], [0xc0], [0xc1], [0x90], [0xff], [0x00, 0x00]]) expectRejected(cat(bytes, extra), DecodeError, decoder);
    }
  });

  it('rejects two messages in one frame', () => {
    const [first, second] = messages;
    expectRejected(cat(first!.bytes, second!.bytes), DecodeError);
  });
});

describe('formats outside v1', () => {
  const forbidden = [0xc1, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8];

  it.each(forbidden.map((byte) => [byte.toString(16)]))('rejects 0x%s at the top level, in an array and as a map value', (byteHex) => {
    const byte = Number.parseInt(byteHex, 16);
    // Give every format enough payload bytes that only the format itself is at fault.
    const payload = new Uint8Array(20);
    expectRejected(cat([byte], payload), DecodeError);
    expectRejected(cat([0x91, byte], payload), DecodeError);
    expectRejected(cat([0x81, 0xa1, 0x61, byte], payload), DecodeError);
  });

  it('rejects NaN, ±Infinity and integral floats in both widths', () => {
    const floats = ['ca7fc00000', 'ca7f800000', 'caff800000', 'ca3f800000', 'cb7ff8000000000000', 'cb7ff0000000000000', 'cbfff0000000000000', 'cb3ff0000000000000', 'cb8000000000000000'];
    for (const float of floats) expectRejected(hex(float), DecodeError);
  });

  it('rejects the timestamp extension in every width', () => {
    for (const timestamp of ['d6ff00000000', 'd7ff0000000000000000', 'c70cff000000000000000000000000']) expectRejected(hex(timestamp), DecodeError);
  });

  it('rejects integers beyond ±(2^53-1) and accepts the bounds', () => {
    expect(decode(hex('cf001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decode(hex('d3ffe0000000000001'))).toBe(-Number.MAX_SAFE_INTEGER);
    for (const big of ['cf0020000000000000', 'cfffffffffffffffff', 'd30020000000000000', 'd3ffe0000000000000', 'd38000000000000000', 'd37fffffffffffffff']) {
      expectRejected(hex(big), DecodeError);
    }
  });
});

describe('length prefixes', () => {
  it.each([
    ['str32', 'db'],
    ['bin32', 'c6'],
    ['array32', 'dd'],
    ['map32', 'df'],
  ])('rejects a 0xffffffff %s prefix before allocating, at the top level and nested', (_, format) => {
    for (const tail of ['', '00', '0102030405060708']) {
      expectRejected(hex(`${format}ffffffff${tail}`), DecodeError);
      expectRejected(hex(`92c0${format}ffffffff${tail}`), DecodeError);
      expectRejected(hex(`81a161${format}ffffffff${tail}`), DecodeError);
    }
  });

  it('rejects a map whose entries cannot fit in the bytes left', () => {
    // 3 entries need at least 6 bytes; only 5 remain.
    expectRejected(hex('83a161a16201'), DecodeError);
  });
});

describe('nesting', () => {
  it('rejects 100,000 nested arrays with TooLargeError, without overflowing the stack', () => {
    const bytes = new Uint8Array(100_001).fill(0x91);
    bytes[100_000] = 0xc0;
    const error = expectRejected(bytes, TooLargeError);
    expect(error.message).toMatch(/deeper than 32/);
  });

  it('rejects 100,000 nested maps and truncated deep nesting', () => {
    const level = hex('81a161');
    const maps = new Uint8Array(level.byteLength * 100_000 + 1);
    for (let i = 0; i < 100_000; i++) maps.set(level, i * level.byteLength);
    maps[maps.byteLength - 1] = 0xc0;
    expectRejected(maps, TooLargeError);
    expectRejected(new Uint8Array(100_000).fill(0x91), TooLargeError);
    expectRejected(new Uint8Array(100_000).fill(0xdd), DecodeError);
  });

  it('accepts 32 levels and rejects 33, with a lower custom depth honoured', () => {
    const nested = (depth: number): Uint8Array => cat(new Array<number>(depth - 1).fill(0x91), [0x90]);
    expect(() => decode(nested(32))).not.toThrow();
    expectRejected(nested(33), TooLargeError);
    const shallow = new Decoder({ maxDepth: 3 });
    expect(shallow.decode(nested(3))).toEqual([[[]]]);
    expectRejected(nested(4), TooLargeError, shallow);
  });

  it('encodes a binary or a string inside the deepest legal array, as the decoder reads it (a leaf is no level)', () => {
    const wrap = (leaf: unknown, levels: number): unknown => (levels === 0 ? leaf : [wrap(leaf, levels - 1)]);
    for (const leaf of [new Uint8Array([1, 2]), 'x', 7, null]) {
      expect(decode(encode(wrap(leaf, 32)))).toEqual(wrap(leaf, 32));
      expect(() => encode(wrap(leaf, 33))).toThrow(/nesting deeper than 32/);
    }
  });

  it('refuses a maxDepth so large that recursion could overflow the stack', () => {
    expect(() => new Decoder({ maxDepth: 1_001 })).toThrow(RangeError);
    expect(() => new Encoder({ maxDepth: 1_001 })).toThrow(RangeError);
    const deepest = new Decoder({ maxDepth: 1_000, maxBytes: 10_000_000 });
    const bytes = new Uint8Array(1_002).fill(0x91);
    bytes[1_001] = 0xc0;
    expectRejected(bytes, TooLargeError, deepest);
    expect(() => deepest.decode(bytes.subarray(1))).not.toThrow();
  });

  it('fails to encode a cyclic value with a ValidationError, not a stack overflow', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const error = failure(() => encode(cyclic));
    expect(error).toBeInstanceOf(CorreioError);
    expect((error as CorreioError).code).toBe('VALIDATION');
  });
});

describe('map keys', () => {
  const a = hex('a161');

  it('rejects duplicate keys however they are spelled, at any depth', () => {
    expectRejected(cat([0x82], a, [0x01], a, [0x02]), DecodeError);
    expectRejected(cat([0x82], a, [0x01], hex('d90161'), [0x02]), DecodeError);
    expectRejected(cat([0x82], a, [0x01], hex('da000161'), [0x02]), DecodeError);
    expectRejected(cat([0x91, 0x91, 0x82], a, [0x01], a, [0x01]), DecodeError);
  });

  it('rejects non-string keys of every kind', () => {
    for (const key of ['00', 'ff', 'c0', 'c3', 'c40161', '90', '80', 'cb3ff0000000000000', 'cc80']) {
      expectRejected(cat([0x81], hex(key), [0x01]), DecodeError);
    }
  });

  it('rejects __proto__ at every depth from 1 to 32', () => {
    const proto = cat([0xa9], Buffer.from('__proto__'));
    const polluted = cat([0x81], hex('a8706f6c6c75746564'), [0xc3]); // {polluted: true}
    for (let depth = 1; depth <= 32; depth++) {
      let bytes = entry(proto, polluted);
      for (let level = 1; level < depth; level++) bytes = level % 2 === 0 ? cat([0x91], bytes) : entry(a, bytes);
      expectRejected(bytes, DecodeError);
    }
  });

  describe('constructor and prototype', () => {
    afterEach(() => {
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    });

    it('decode as own properties and leave Object.prototype clean', () => {
      const value = decode(
        encode({
          constructor: { prototype: { polluted: true } },
          prototype: { polluted: true },
          nested: [{ constructor: { prototype: { polluted: true } } }],
          toString: 'not a function',
          hasOwnProperty: 1,
        }),
      ) as Record<string, unknown>;
      expect(Object.hasOwn(value, 'constructor')).toBe(true);
      expect(Object.hasOwn(value, 'prototype')).toBe(true);
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(value['toString']).toBe('not a function');
      expect((value['constructor'] as Record<string, Record<string, unknown>>)['prototype']!['polluted']).toBe(true);
    });

    it('survive a message round trip without polluting anything', () => {
      const codec = new MessageCodec();
      const envelope = {
        v: 1,
        type: 'service.call.request',
        id: 'x',
        from: 'me',
        lc: 1,
        ts: 1,
        body: { action: 'a.b', params: { constructor: { prototype: { polluted: true } }, prototype: { polluted: true } } },
      } as const;
      expect(codec.decode(codec.encode(envelope))).toEqual(envelope);
    });

    it('a __proto__ key never reaches the object, even after a rejected decode', () => {
      const payload = cat([0x81, 0xa9], Buffer.from('__proto__'), [0x81], hex('a8706f6c6c75746564'), [0xc3]);
      expectRejected(payload, DecodeError);
      expectRejected(cat([0x82], a, [0x01], payload.subarray(1)), DecodeError);
    });
  });
});

describe('invalid UTF-8', () => {
  const sequences = ['c0af', 'c080', 'e080af', 'f08080af', 'eda080', 'edbfbf', 'eda0bdedb880', 'c3', 'e282', 'f09f98', 'ff', 'fe', '80', 'f4908080', 'f5808080'];

  it.each(sequences)('rejects %s in short and long strings, at the start, middle and end, and in keys', (sequence) => {
    const bad = hex(sequence);
    const padding = Buffer.from('x'.repeat(40));
    for (const text of [bad, cat(bad, padding), cat(padding, bad), cat(padding, bad, padding), cat('61', bad)]) {
      const header = text.byteLength < 32 ? [0xa0 | text.byteLength] : [0xd9, text.byteLength];
      expectRejected(cat(header, text), DecodeError);
      expectRejected(cat([0x81], header, text, [0x01]), DecodeError);
    }
  });

  it('keeps a leading BOM and noncharacters', () => {
    expect(decode(hex('a6efbbbf616263'))).toBe('\ufeffabc');
    expect(decode(hex('a6efbfbeefbfbf'))).toBe('\ufffe\uffff');
  });
});

describe('limits', () => {
  it('applies every default limit exactly at its boundary', () => {
    expect(decode(encode('a'.repeat(DEFAULT_LIMITS.maxStringBytes)))).toHaveLength(DEFAULT_LIMITS.maxStringBytes);
    expectRejected(encode('a'.repeat(DEFAULT_LIMITS.maxStringBytes + 1)), TooLargeError);
    expect(decode(encode(new Array(DEFAULT_LIMITS.maxArrayLength).fill(0)))).toHaveLength(DEFAULT_LIMITS.maxArrayLength);
    expectRejected(encode(new Array(DEFAULT_LIMITS.maxArrayLength + 1).fill(0)), TooLargeError);
    const map = (size: number) => Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, 0]));
    expect(Object.keys(decode(encode(map(DEFAULT_LIMITS.maxMapSize))) as object)).toHaveLength(DEFAULT_LIMITS.maxMapSize);
    expectRejected(encode(map(DEFAULT_LIMITS.maxMapSize + 1)), TooLargeError);
    // The binary limit equals the message limit: a binary that large cannot fit with its header.
    expectRejected(encode(new Uint8Array(DEFAULT_LIMITS.maxBinBytes)), TooLargeError);
    expect(decode(encode(new Uint8Array(DEFAULT_LIMITS.maxBytes - 5)))).toHaveLength(DEFAULT_LIMITS.maxBytes - 5);
    expectRejected(new Uint8Array(DEFAULT_LIMITS.maxBytes + 1), TooLargeError);
  });

  it('honours lower custom limits, one by one', () => {
    const cases: Array<[Partial<typeof DEFAULT_LIMITS>, unknown, unknown]> = [
      [{ maxStringBytes: 8 }, 'a'.repeat(8), 'a'.repeat(9)],
      [{ maxStringBytes: 8 }, 'é'.repeat(4), 'é'.repeat(4) + 'a'],
      [{ maxBinBytes: 4 }, new Uint8Array(4), new Uint8Array(5)],
      [{ maxArrayLength: 3 }, [1, 2, 3], [1, 2, 3, 4]],
      [{ maxArrayLength: 3 }, [[1, 2, 3]], [[1, 2, 3, 4]]],
      [{ maxMapSize: 2 }, { a: 1, b: 2 }, { a: 1, b: 2, c: 3 }],
      [{ maxMapSize: 2 }, [{ a: 1, b: 2 }], [{ a: 1, b: 2, c: 3 }]],
      [{ maxDepth: 2 }, [[]], [[[]]]],
      [{ maxDepth: 2 }, { a: {} }, { a: { b: {} } }],
      [{ maxBytes: 10 }, 'a'.repeat(8), 'a'.repeat(9) + 'b'],
    ];
    for (const [limits, fits, exceeds] of cases) {
      const decoder = new Decoder(limits);
      expect(decoder.decode(encode(fits))).toEqual(fits);
      expectRejected(encode(exceeds), TooLargeError, decoder);
    }
  });

  it('checks a declared length against the bytes left before the limit', () => {
    // 1,001 entries announced but only 3 bytes follow: malformed, whatever the limit says.
    expectRejected(hex('de03e9a16101'), DecodeError);
    // 10,001 items that are all present: over the limit.
    expectRejected(cat('dc2711', new Uint8Array(10_001)), TooLargeError);
  });

  it('applies custom limits in MessageCodec', () => {
    const codec = new MessageCodec({ limits: { maxStringBytes: 24 } });
    const envelope = { v: 1, type: 'chat.publish.request', id: 'x', from: 'me', lc: 1, ts: 1, body: { user: 'ana', channel: 'c', text: 'short' } } as const;
    expect(codec.decode(codec.encode(envelope))).toEqual(envelope);
    const long = { ...envelope, body: { ...envelope.body, text: 'a text longer than twenty-four bytes' } };
    expect(failure(() => codec.decode(new MessageCodec().encode(long)))).toBeInstanceOf(TooLargeError);
  });

  it('refuses limits that are not positive integers', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new Decoder({ maxArrayLength: bad })).toThrow(RangeError);
    }
  });
});

describe('mutated real messages', () => {
  it('never throw anything but DecodeError or TooLargeError when any single byte is replaced', () => {
    const decoder = new Decoder();
    const replacements = [0x00, 0x7f, 0x80, 0x90, 0xa0, 0xc0, 0xc1, 0xc4, 0xca, 0xcf, 0xd3, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff];
    for (const { bytes } of messages) {
      for (let at = 0; at < bytes.byteLength; at++) {
        for (const replacement of replacements) {
          const mutated = bytes.slice();
          mutated[at] = replacement;
          decodesOrRejectsCleanly(mutated, decoder);
        }
      }
    }
  });

  it('only ever throw CorreioErrors through MessageCodec', () => {
    const codec = new MessageCodec();
    for (const { bytes } of messages) {
      for (let at = 0; at < bytes.byteLength; at++) {
        const mutated = bytes.slice();
        mutated[at] = (mutated[at]! + 1) & 0xff;
        try {
          codec.decode(mutated);
        } catch (error) {
          expect(error).toBeInstanceOf(CorreioError);
        }
      }
    }
  });
});

describe('values that cannot be encoded', () => {
  function encodeFailure(value: unknown): ValidationError {
    const error = failure(() => new Encoder().encode(value));
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }

  it('names the JSON pointer of the offending value, escaping ~ and /', () => {
    const error = encodeFailure({ a: 1, 'b/c': [0, { 'd~e': 1.5 }] });
    expect(error.message).toBe('cannot encode /b~1c/1/d~0e: 1.5 is not an integer; v1 carries no floats');
    expect(error.data).toEqual({ path: '/b~1c/1/d~0e' });
  });

  it('reports failures at the top level as "value"', () => {
    expect(encodeFailure(() => 1).message).toBe('cannot encode value: a function has no v1 encoding');
    expect(encodeFailure(2 ** 60).data).toEqual({ path: '' });
  });

  it('refuses lone surrogates in short and long strings, in values and keys', () => {
    for (const text of ['\ud800', `${'x'.repeat(100)}\udc00`, `a\ud83dz`]) {
      expect(encodeFailure({ k: [text] }).message).toBe('cannot encode /k/0: a string holds a lone surrogate');
      expect(encodeFailure({ m: { [text]: 1 } }).message).toBe('cannot encode /m: a string holds a lone surrogate');
    }
  });

  it('refuses __proto__ keys, class instances and cycles with the container path', () => {
    expect(encodeFailure({ x: JSON.parse('{"__proto__": 1}') }).data).toEqual({ path: '/x' });
    expect(encodeFailure({ when: [new Date(0)] }).message).toMatch(/^cannot encode \/when\/0: a Date object/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(encodeFailure(cycle).message).toMatch(/nesting deeper than 32$/);
  });

  it('an encoder that failed encodes the next value correctly', () => {
    const encoder = new Encoder();
    expect(() => encoder.encode({ a: 'x'.repeat(500), b: 0.5 })).toThrow(ValidationError);
    expect(decode(encoder.encode({ a: 'é'.repeat(20) }))).toEqual({ a: 'é'.repeat(20) });
  });
});

describe('sequences of values (pub/sub batches)', () => {
  const one = encode({ a: 1 });
  const two = encode(['x', 2]);
  const seq = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

  it('decodes exactly count values that fill the bytes', () => {
    expect(new Decoder().decodeSequence(seq(one, two, one), 3)).toEqual([{ a: 1 }, ['x', 2], { a: 1 }]);
    expect(new Decoder().decodeSequence(one, 1)).toEqual([{ a: 1 }]);
  });

  it('refuses fewer values, more values, trailing and truncated bytes with DecodeError', () => {
    const decoder = new Decoder();
    for (const [bytes, count] of [
      [seq(one, two), 3],
      [seq(one, two, one), 2],
      [seq(one, two, Uint8Array.of(0xc1)), 3],
      [seq(one, two.subarray(0, two.byteLength - 1)), 2],
      [new Uint8Array(0), 1],
    ] as const) {
      expect(failure(() => decoder.decodeSequence(bytes, count))).toBeInstanceOf(DecodeError);
    }
    expect(decoder.decodeSequence(seq(two, one), 2)).toEqual([['x', 2], { a: 1 }]);
  });

  it('applies maxBytes to the whole frame', () => {
    const decoder = new Decoder({ maxBytes: one.byteLength * 2 });
    expect(decoder.decodeSequence(seq(one, one), 2)).toHaveLength(2);
    expect(failure(() => decoder.decodeSequence(seq(one, one, one), 3))).toBeInstanceOf(TooLargeError);
  });

  it('MessageCodec fails a value that is not an envelope alone, in its slot', () => {
    const codec = new MessageCodec();
    const envelope = { v: 1, type: 'service.event', id: 'id-1', from: 'p', lc: 1, ts: 1, body: { event: 'a.b', data: {}, sender: 's' } } as const;
    const [first, middle, last] = codec.decodeSequence(seq(codec.encode(envelope), one, codec.encode({ ...envelope, id: 'id-2' })), 3);
    expect(first).toMatchObject({ id: 'id-1' });
    expect(middle).toBeInstanceOf(CorreioError);
    expect((middle as CorreioError).code).toBe('VALIDATION');
    expect(last).toMatchObject({ id: 'id-2' });
  });
});
