// The reference encoder for the vectors' bytes, independent of @correio/codec: @msgpack/msgpack
// chooses every format; this file only orders map keys by their UTF-8 bytes (ENCODING.md §1).
// @msgpack/msgpack 3.x writes a JS Map as an empty map, and plain objects iterate integer-like keys
// ("1", "9", "10") numerically, so maps are assembled here from headers and entries that
// @msgpack/msgpack encodes.
import { Encoder } from '@msgpack/msgpack';
import { fromHex, isMap, type V1Value } from './vectors-format.js';

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

// One encoder for every call: @msgpack/msgpack's encode() builds a new Encoder, with a fresh 2 KiB
// buffer, each time, which was most of the generator's run time. encode() returns a copy.
const encoder = new Encoder({ useBigInt64: false, ignoreUndefined: false });

function pack(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Concatenates byte parts; a string part is hex ('d9 01 61'). */
export function cat(...parts: ReadonlyArray<Uint8Array | string | readonly number[]>): Uint8Array {
  return concat(parts.map((part) => (typeof part === 'string' ? fromHex(part) : part instanceof Uint8Array ? part : Uint8Array.from(part))));
}

/** One new array holding `chunks` in order (never one of them: callers may keep what they get). */
function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

const arrayHeaders = new Map<number, Uint8Array>();
const mapHeaders = new Map<number, Uint8Array>();

/** The header @msgpack/msgpack writes for an array of `length` items (the prefix before n nils). */
export function arrayHeader(length: number): Uint8Array {
  let header = arrayHeaders.get(length);
  if (!header) {
    const probe = pack(new Array<null>(length).fill(null));
    header = probe.slice(0, probe.byteLength - length);
    arrayHeaders.set(length, header);
  }
  return header;
}

/** The header @msgpack/msgpack writes for a map of `size` entries. */
export function mapHeader(size: number): Uint8Array {
  let header = mapHeaders.get(size);
  if (!header) {
    // Keys "k0", "k1", … with nil values: the header is what precedes the entries.
    const probe = pack(Object.fromEntries(Array.from({ length: size }, (_, i) => [`k${i}`, null])));
    let entries = 0;
    for (let i = 0; i < size; i++) entries += pack(`k${i}`).byteLength + 1;
    header = probe.slice(0, probe.byteLength - entries);
    mapHeaders.set(size, header);
  }
  return header;
}

/** Orders strings by their UTF-8 bytes: the canonical key order. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Encodes a map from explicit entries, in the order given (duplicates and all), for hand-made cases. */
export function rawMap(entries: ReadonlyArray<readonly [Uint8Array | string, Uint8Array]>): Uint8Array {
  return cat(mapHeader(entries.length), ...entries.flatMap(([key, value]) => [typeof key === 'string' ? pack(key) : key, value]));
}

/** Encodes an array from already encoded items. */
export function rawArray(items: readonly Uint8Array[]): Uint8Array {
  return cat(arrayHeader(items.length), ...items);
}

export interface EncodeOptions {
  /** Write map entries in reverse canonical order (a non-canonical order a decoder must accept). */
  readonly reverseKeys?: boolean;
  /** Write every integer as uint64/int64 (a non-canonical width a decoder must accept). */
  readonly wideIntegers?: boolean;
}

/** The canonical encoding of a value, or a deliberately non-canonical one with options. */
export function referenceEncode(value: V1Value, options: EncodeOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(value, options, parts);
  return concat(parts);
}

// Map keys repeat across thousands of cases: their encodings are kept (pack() returns a copy each time).
const packedKeys = new Map<string, Uint8Array>();

function packedKey(key: string): Uint8Array {
  let packed = packedKeys.get(key);
  if (!packed) packedKeys.set(key, (packed = pack(key)));
  return packed;
}

/** Appends the encoding of `value` to `parts`: one concatenation at the end, not one per level of nesting. */
function encodeInto(value: V1Value, options: EncodeOptions, parts: Uint8Array[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value > MAX_SAFE || value < -MAX_SAFE) throw new Error(`${value} is not a v1 integer`);
    parts.push(options.wideIntegers ? wideInteger(value) : pack(value));
  } else if (value === null || typeof value === 'boolean' || typeof value === 'string' || value instanceof Uint8Array) {
    parts.push(pack(value));
  } else if (Array.isArray(value)) {
    parts.push(arrayHeader(value.length));
    for (const item of value) encodeInto(item, options, parts);
  } else if (isMap(value)) {
    const keys = Object.keys(value).sort(compareUtf8);
    if (options.reverseKeys) keys.reverse();
    parts.push(mapHeader(keys.length));
    for (const key of keys) {
      parts.push(packedKey(key));
      encodeInto(value[key]!, options, parts);
    }
  } else {
    throw new Error(`no v1 encoding for ${String(value)}`);
  }
}

/** An integer in the 64-bit format of its sign: 0xcf for non-negative, 0xd3 for negative. */
export function wideInteger(value: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  out[0] = value < 0 ? 0xd3 : 0xcf;
  view.setBigInt64(1, BigInt(value));
  return out;
}

/** A string written with an explicit, possibly wider than needed, format: 0xd9, 0xda or 0xdb. */
export function stringAs(format: 0xd9 | 0xda | 0xdb, text: string | Uint8Array): Uint8Array {
  const bytes = typeof text === 'string' ? new Uint8Array(Buffer.from(text, 'utf8')) : text;
  return cat([format], lengthBytes(format === 0xd9 ? 1 : format === 0xda ? 2 : 4, bytes.byteLength), bytes);
}

/** A binary written with an explicit format: 0xc4, 0xc5 or 0xc6. */
export function binaryAs(format: 0xc4 | 0xc5 | 0xc6, bytes: Uint8Array): Uint8Array {
  return cat([format], lengthBytes(format === 0xc4 ? 1 : format === 0xc5 ? 2 : 4, bytes.byteLength), bytes);
}

/** Raw UTF-8 (or arbitrary) bytes as a fixstr/str8/str16/str32 with the shortest header. */
export function stringOfBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength < 32) return cat([0xa0 | bytes.byteLength], bytes);
  if (bytes.byteLength < 0x100) return stringAs(0xd9, bytes);
  if (bytes.byteLength < 0x10000) return stringAs(0xda, bytes);
  return stringAs(0xdb, bytes);
}

function lengthBytes(width: 1 | 2 | 4, length: number): Uint8Array {
  const out = new Uint8Array(width);
  const view = new DataView(out.buffer);
  if (width === 1) view.setUint8(0, length);
  else if (width === 2) view.setUint16(0, length);
  else view.setUint32(0, length);
  return out;
}
