import { ValidationError } from './errors.js';
import { DEFAULT_LIMITS, MAX_NESTING } from './limits.js';

export interface EncoderOptions {
  /** Initial buffer size in bytes; the buffer grows as needed. Defaults to 2048. */
  readonly initialBufferSize?: number;
  /** Deepest nesting the encoder accepts, so a cyclic value fails instead of overflowing. Defaults to 32, at most 1,000. */
  readonly maxDepth?: number;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Canonical MessagePack encoder for the v1 value model (protocol/ENCODING.md §1): shortest
 * formats, map keys sorted by code point, integers only. Reuse one instance: its buffer is kept.
 */
export class Encoder {
  readonly #maxDepth: number;
  #buffer: Uint8Array;
  #view: DataView;
  #pos = 0;
  #sawBinary = false;

  constructor(options: EncoderOptions = {}) {
    this.#maxDepth = options.maxDepth ?? DEFAULT_LIMITS.maxDepth;
    if (!Number.isSafeInteger(this.#maxDepth) || this.#maxDepth < 1 || this.#maxDepth > MAX_NESTING) {
      throw new RangeError(`maxDepth must be an integer from 1 to ${MAX_NESTING}, got ${String(options.maxDepth)}`);
    }
    this.#buffer = new Uint8Array(options.initialBufferSize ?? 2048);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Encodes one value; the result is a fresh copy the caller owns. */
  encode(value: unknown): Uint8Array {
    this.#pos = 0;
    this.#sawBinary = false;
    try {
      this.#write(value, 0);
    } catch (error) {
      if (error instanceof EncodeFailure) throw invalid(error.path(), error.reason);
      throw error;
    }
    return this.#buffer.slice(0, this.#pos);
  }

  /** Whether the last encoded value held a binary anywhere (most hold none). */
  get sawBinary(): boolean {
    return this.#sawBinary;
  }

  // Paths for error messages are assembled only when encoding fails, as the failure unwinds
  // (EncodeFailure.under), so the common case builds no strings.
  #write(value: unknown, depth: number): void {
    switch (typeof value) {
      case 'string':
        return this.#writeString(value);
      case 'number':
        return this.#writeNumber(value);
      case 'boolean':
        return this.#byte(value ? 0xc3 : 0xc2);
      case 'object':
        if (value === null) return this.#byte(0xc0);
        // A binary is a leaf, like a string: only arrays and maps nest (the decoder counts the same).
        if (value instanceof Uint8Array) return this.#writeBinary(value);
        if (depth >= this.#maxDepth) throw new EncodeFailure(`nesting deeper than ${this.#maxDepth}`);
        if (Array.isArray(value)) return this.#writeArray(value, depth);
        return this.#writeMap(value, depth);
      default:
        throw new EncodeFailure(`a ${typeof value} has no v1 encoding`);
    }
  }

  #writeNumber(value: number): void {
    if (!Number.isInteger(value)) throw new EncodeFailure(`${value} is not an integer; v1 carries no floats`);
    if (value > MAX_SAFE || value < -MAX_SAFE) throw new EncodeFailure(`${value} is outside ±(2^53-1)`);
    if (value >= 0) {
      if (value < 0x80) return this.#byte(value);
      if (value < 0x100) return this.#head8(0xcc, value);
      if (value < 0x10000) return this.#head16(0xcd, value);
      if (value < 0x100000000) return this.#head32(0xce, value);
      this.#ensure(9);
      this.#buffer[this.#pos] = 0xcf;
      this.#view.setUint32(this.#pos + 1, Math.floor(value / 0x100000000));
      this.#view.setUint32(this.#pos + 5, value >>> 0);
      this.#pos += 9;
      return;
    }
    if (value >= -32) return this.#byte(value & 0xff);
    if (value >= -0x80) {
      this.#ensure(2);
      this.#buffer[this.#pos] = 0xd0;
      this.#view.setInt8(this.#pos + 1, value);
      this.#pos += 2;
      return;
    }
    if (value >= -0x8000) {
      this.#ensure(3);
      this.#buffer[this.#pos] = 0xd1;
      this.#view.setInt16(this.#pos + 1, value);
      this.#pos += 3;
      return;
    }
    if (value >= -0x80000000) {
      this.#ensure(5);
      this.#buffer[this.#pos] = 0xd2;
      this.#view.setInt32(this.#pos + 1, value);
      this.#pos += 5;
      return;
    }
    this.#ensure(9);
    this.#buffer[this.#pos] = 0xd3;
    this.#view.setInt32(this.#pos + 1, Math.floor(value / 0x100000000));
    this.#view.setUint32(this.#pos + 5, value >>> 0);
    this.#pos += 9;
  }

  /**
   * One pass: the bytes are written after a header sized for the string's UTF-16 length (a lower
   * bound of its UTF-8 length), then moved up in the rare case the UTF-8 length needs a bigger header.
   */
  #writeString(value: string): void {
    const length = value.length;
    const guess = headerSize(length);
    this.#ensure(guess + length * 3 + 4);
    const start = this.#pos + guess;
    const size = length < NATIVE_UTF8_FROM ? writeUtf8(value, this.#buffer, start) : this.#writeUtf8Natively(value, start);
    const header = headerSize(size);
    if (header !== guess) this.#buffer.copyWithin(this.#pos + header, start, start + size);
    if (header === 1) this.#buffer[this.#pos] = 0xa0 | size;
    else if (header === 2) {
      this.#buffer[this.#pos] = 0xd9;
      this.#buffer[this.#pos + 1] = size;
    } else if (header === 3) {
      this.#buffer[this.#pos] = 0xda;
      this.#view.setUint16(this.#pos + 1, size);
    } else {
      this.#buffer[this.#pos] = 0xdb;
      this.#view.setUint32(this.#pos + 1, size);
    }
    this.#pos += header + size;
  }

  #writeUtf8Natively(value: string, start: number): number {
    if (!(value as unknown as WellFormedCheck).isWellFormed()) throw new EncodeFailure(LONE_SURROGATE);
    return utf8Encoder.encodeInto(value, this.#buffer.subarray(start)).written;
  }

  #writeBinary(value: Uint8Array): void {
    this.#sawBinary = true;
    const size = value.byteLength;
    if (size < 0x100) this.#head8(0xc4, size);
    else if (size < 0x10000) this.#head16(0xc5, size);
    else this.#head32(0xc6, size);
    this.#ensure(size);
    this.#buffer.set(value, this.#pos);
    this.#pos += size;
  }

  #writeArray(value: readonly unknown[], depth: number): void {
    this.#collectionHead(value.length, 0x90, 0xdc);
    let i = 0;
    try {
      for (; i < value.length; i++) this.#write(value[i], depth + 1);
    } catch (error) {
      throw EncodeFailure.under(error, String(i));
    }
  }

  #writeMap(value: object, depth: number): void {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new EncodeFailure(`a ${value.constructor?.name ?? 'non-plain'} object has no v1 encoding; use a plain object`);
    }
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    // Absent fields are omitted (ENCODING.md §1), as JSON.stringify omits undefined.
    let present = keys.length;
    for (const key of keys) if (record[key] === undefined) present--;
    if (!isSortedByCodePoint(keys)) keys.sort(compareCodePoints);
    this.#collectionHead(present, 0x80, 0xde);
    for (const key of keys) {
      const item = record[key];
      if (item === undefined) continue;
      if (key === '__proto__') throw new EncodeFailure('the key __proto__ is not allowed');
      this.#writeKey(key);
      try {
        this.#write(item, depth + 1);
      } catch (error) {
        throw EncodeFailure.under(error, key);
      }
    }
  }

  /** Map keys repeat from message to message, so their encodings are kept (a bounded cache). */
  #writeKey(key: string): void {
    const cached = keyCache.get(key);
    if (cached === undefined) {
      const start = this.#pos;
      this.#writeString(key);
      if (keyCache.size < KEY_CACHE_ENTRIES && this.#pos - start <= KEY_CACHE_MAX_BYTES) keyCache.set(key, this.#buffer.slice(start, this.#pos));
      return;
    }
    this.#ensure(cached.length);
    for (let i = 0; i < cached.length; i++) this.#buffer[this.#pos + i] = cached[i]!;
    this.#pos += cached.length;
  }

  #collectionHead(length: number, fix: number, format16: number): void {
    if (length < 16) this.#byte(fix | length);
    else if (length < 0x10000) this.#head16(format16, length);
    else this.#head32(format16 + 1, length);
  }

  #byte(value: number): void {
    this.#ensure(1);
    this.#buffer[this.#pos++] = value;
  }

  #head8(format: number, value: number): void {
    this.#ensure(2);
    this.#buffer[this.#pos] = format;
    this.#buffer[this.#pos + 1] = value;
    this.#pos += 2;
  }

  #head16(format: number, value: number): void {
    this.#ensure(3);
    this.#buffer[this.#pos] = format;
    this.#view.setUint16(this.#pos + 1, value);
    this.#pos += 3;
  }

  #head32(format: number, value: number): void {
    this.#ensure(5);
    this.#buffer[this.#pos] = format;
    this.#view.setUint32(this.#pos + 1, value);
    this.#pos += 5;
  }

  #ensure(extra: number): void {
    const needed = this.#pos + extra;
    if (needed <= this.#buffer.byteLength) return;
    const grown = new Uint8Array(Math.max(needed, this.#buffer.byteLength * 2));
    grown.set(this.#buffer.subarray(0, this.#pos));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

function invalid(path: string, reason: string): ValidationError {
  return new ValidationError(`cannot encode ${path || 'value'}: ${reason}`, { data: { path } });
}

const LONE_SURROGATE = 'a string holds a lone surrogate';

/** Why a value cannot be encoded, and where: JSON-pointer segments gathered while unwinding. */
class EncodeFailure extends Error {
  readonly #segments: string[] = [];

  constructor(readonly reason: string) {
    super(reason);
  }

  /** Adds the map key or array index under which `error` happened (other errors pass through). */
  static under(error: unknown, segment: string): unknown {
    if (error instanceof EncodeFailure) error.#segments.push(segment);
    return error;
  }

  path(): string {
    return this.#segments.reduceRight((path, segment) => `${path}/${segment.replaceAll('~', '~0').replaceAll('/', '~1')}`, '');
  }
}

/** Bytes a str header takes for a string of `size` UTF-8 bytes. */
function headerSize(size: number): number {
  return size < 32 ? 1 : size < 0x100 ? 2 : size < 0x10000 ? 3 : 5;
}

/** From this many UTF-16 units on, TextEncoder's native loop beats the JavaScript one. */
const NATIVE_UTF8_FROM = 64;
const utf8Encoder = new TextEncoder();
/** String.prototype.isWellFormed (ES2024, in Node 20), which TypeScript's ES2022 lib does not declare. */
interface WellFormedCheck {
  isWellFormed(): boolean;
}
const keyCache = new Map<string, Uint8Array>();
const KEY_CACHE_ENTRIES = 4096;
const KEY_CACHE_MAX_BYTES = 64;

/** Writes `value` as UTF-8 at `start` and returns the byte count; refuses lone surrogates, which have no UTF-8 form. */
function writeUtf8(value: string, out: Uint8Array, start: number): number {
  let pos = start;
  for (let i = 0; i < value.length; i++) {
    let code = value.charCodeAt(i);
    if (code < 0x80) {
      out[pos++] = code;
      continue;
    }
    if (code < 0x800) {
      out[pos++] = 0xc0 | (code >> 6);
    } else {
      if (code >= 0xd800 && code <= 0xdfff) {
        const next = value.charCodeAt(i + 1);
        if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) throw new EncodeFailure(LONE_SURROGATE);
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[pos++] = 0xf0 | (code >> 18);
        out[pos++] = 0x80 | ((code >> 12) & 0x3f);
      } else {
        out[pos++] = 0xe0 | (code >> 12);
      }
      out[pos++] = 0x80 | ((code >> 6) & 0x3f);
    }
    out[pos++] = 0x80 | (code & 0x3f);
  }
  return pos - start;
}

/**
 * Orders strings by Unicode code point (= UTF-8 byte order). JavaScript's default sort compares
 * UTF-16 units, which puts U+E000–U+FFFF after astral characters; shifting surrogates above them fixes that.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

function isSortedByCodePoint(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (compareCodePoints(keys[i - 1]!, keys[i]!) >= 0) return false;
  return true;
}

const shared = new Encoder();

/** Encodes one value with a shared encoder. */
export function encode(value: unknown): Uint8Array {
  return shared.encode(value);
}
