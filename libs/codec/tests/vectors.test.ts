// Runs every vector of protocol/vectors/v1 (protocol/vectors/README.md) through the codec.
import { describe, expect, it } from 'vitest';
import { CorreioError, DecodeError, Decoder, DEFAULT_LIMITS, Encoder, MessageCodec, TooLargeError } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { assertSameValue, fromJson, hex, loadMessageFiles, loadVectorFile, toHex, type InvalidCase } from './vector-files.js';

function rejection(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, but the call returned');
}

function expectCode(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(CorreioError);
  expect((error as CorreioError).code).toBe(code);
  if (code === 'DECODE') expect(error).toBeInstanceOf(DecodeError);
  if (code === 'TOO_LARGE') expect(error).toBeInstanceOf(TooLargeError);
}

const codecFile = loadVectorFile('codec.json');

describe('codec.json', () => {
  const encoder = new Encoder();
  const decoder = new Decoder(codecFile.limits);

  it('assumes the default limits', () => {
    expect(codecFile.limits).toEqual({ ...DEFAULT_LIMITS });
  });

  describe('valid: encodes to the exact bytes and decodes back', () => {
    it.each(codecFile.valid)('$description', ({ value, msgpack_hex }) => {
      const expected = fromJson(value);
      expect(toHex(encoder.encode(expected))).toBe(msgpack_hex);
      assertSameValue(decoder.decode(hex(msgpack_hex)), expected);
    });
  });

  describe('decode_only: non-canonical bytes decode to the value', () => {
    it.each(codecFile.decode_only)('$description', ({ value, msgpack_hex }) => {
      const expected = fromJson(value);
      assertSameValue(decoder.decode(hex(msgpack_hex)), expected);
      expect(toHex(encoder.encode(expected))).not.toBe(msgpack_hex);
    });
  });

  describe('invalid: rejected with the expected code', () => {
    it.each(codecFile.invalid)('$description', ({ msgpack_hex, error }) => {
      expectCode(
        rejection(() => decoder.decode(hex(msgpack_hex!))),
        error,
      );
    });
  });
});

describe.each(loadMessageFiles())('$name', ({ type, valid, decode_only, invalid }) => {
  const codec = new MessageCodec();
  const encoder = new Encoder();

  it.runIf(valid.length > 0)('has valid cases of its own type', () => {
    if (type === undefined) return;
    for (const entry of valid) expect((entry.value as { type: string }).type).toBe(type);
  });

  describe('valid: MessageCodec encodes the exact bytes and decodes the envelope', () => {
    it.each(valid)('$description', ({ value, msgpack_hex }) => {
      const envelope = fromJson(value) as AnyEnvelope;
      expect(toHex(codec.encode(envelope))).toBe(msgpack_hex);
      assertSameValue(codec.decode(hex(msgpack_hex)), envelope);
    });
  });

  describe('decode_only: non-canonical bytes decode to the envelope', () => {
    it.each(decode_only)('$description', ({ value, msgpack_hex }) => {
      assertSameValue(codec.decode(hex(msgpack_hex)), fromJson(value));
    });
  });

  describe('invalid: decoding fails with the expected code', () => {
    it.each(invalid)('$description', (entry: InvalidCase) => {
      const bytes = entry.msgpack_hex !== undefined ? hex(entry.msgpack_hex) : encoder.encode(fromJson(entry.value!));
      const error = rejection(() => codec.decode(bytes));
      expectCode(error, entry.error);
      if (entry.error === 'VALIDATION' && entry.description.startsWith('/body')) {
        // The offending field is named as a JSON Pointer from the envelope root.
        expect((error as CorreioError).data?.['path']).toMatch(/^\/body(\/|$)/);
      }
      if (entry.value !== undefined) {
        // Encoding validates too, with the same verdict.
        expectCode(
          rejection(() => codec.encode(fromJson(entry.value!) as AnyEnvelope)),
          entry.error,
        );
      }
    });
  });
});

describe('Buffer input (what zeromq delivers)', () => {
  it('decodes like a Uint8Array and copies binary values out of the frame', () => {
    const withBinary = codecFile.valid.filter((entry) => JSON.stringify(entry.value).includes('"$bin"'));
    expect(withBinary.length).toBeGreaterThan(3);
    const decoder = new Decoder();
    for (const entry of withBinary) {
      const frame = Buffer.from(entry.msgpack_hex, 'hex');
      const decoded = decoder.decode(frame);
      assertSameValue(decoded, fromJson(entry.value));
      frame.fill(0xee);
      assertSameValue(decoded, fromJson(entry.value));
    }
  });

  it('decodes from a Buffer that is a view into a larger pool', () => {
    const entry = codecFile.valid.find((item) => item.description.startsWith('map of every value kind'))!;
    const pool = Buffer.alloc(64 + entry.msgpack_hex.length);
    const frame = pool.subarray(7, 7 + entry.msgpack_hex.length / 2);
    frame.set(Buffer.from(entry.msgpack_hex, 'hex'));
    assertSameValue(new Decoder().decode(frame), fromJson(entry.value));
  });
});
