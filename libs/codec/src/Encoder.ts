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
    this.#write(value, 0, '');
    return this.#buffer.slice(0, this.#pos);
  }

  #write(value: unknown, depth: number, path: string): void {
    switch (typeof value) {
      case 'string':
        return this.#writeString(value, path);
      case 'number':
        return this.#writeNumber(value, path);
      case 'boolean':
        return this.#byte(value ? 0xc3 : 0xc2);
      case 'object':
        if (value === null) return this.#byte(0xc0);
        if (depth >= this.#maxDepth) throw invalid(path, `nesting deeper than ${this.#maxDepth}`);
        if (Array.isArray(value)) return this.#writeArray(value, depth, path);
        if (value instanceof Uint8Array) return this.#writeBinary(value);
        return this.#writeMap(value, depth, path);
      default:
        throw invalid(path, `a ${typeof value} has no v1 encoding`);
    }
  }

  #writeNumber(value: number, path: string): void {
    if (!Number.isInteger(value)) throw invalid(path, `${value} is not an integer; v1 carries no floats`);
    if (value > MAX_SAFE || value < -MAX_SAFE) throw invalid(path, `${value} is outside ±(2^53-1)`);
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

  #writeString(value: string, path: string): void {
    const size = utf8Length(value, path);
    if (size < 32) this.#byte(0xa0 | size);
    else if (size < 0x100) this.#head8(0xd9, size);
    else if (size < 0x10000) this.#head16(0xda, size);
    else this.#head32(0xdb, size);
    this.#ensure(size);
    writeUtf8(value, this.#buffer, this.#pos);
    this.#pos += size;
  }

  #writeBinary(value: Uint8Array): void {
    const size = value.byteLength;
    if (size < 0x100) this.#head8(0xc4, size);
    else if (size < 0x10000) this.#head16(0xc5, size);
    else this.#head32(0xc6, size);
    this.#ensure(size);
    this.#buffer.set(value, this.#pos);
    this.#pos += size;
  }

  #writeArray(value: readonly unknown[], depth: number, path: string): void {
    this.#collectionHead(value.length, 0x90, 0xdc);
    for (let i = 0; i < value.length; i++) this.#write(value[i], depth + 1, `${path}/${i}`);
  }

  #writeMap(value: object, depth: number, path: string): void {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      throw invalid(path, `a ${value.constructor?.name ?? 'non-plain'} object has no v1 encoding; use a plain object`);
    }
    const record = value as Record<string, unknown>;
    // Absent fields are omitted (ENCODING.md §1), as JSON.stringify omits undefined.
    const keys = Object.keys(record).filter((key) => record[key] !== undefined);
    if (!isSortedByCodePoint(keys)) keys.sort(compareCodePoints);
    this.#collectionHead(keys.length, 0x80, 0xde);
    for (const key of keys) {
      if (key === '__proto__') throw invalid(path, 'the key __proto__ is not allowed');
      this.#writeString(key, path);
      this.#write(record[key], depth + 1, `${path}/${escapePointer(key)}`);
    }
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

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** UTF-8 byte length; refuses lone surrogates, which have no UTF-8 form. */
function utf8Length(value: string, path: string): number {
  let size = 0;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0x80) size += 1;
    else if (unit < 0x800) size += 2;
    else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      if (unit > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) throw invalid(path, 'a string holds a lone surrogate');
      size += 4;
      i++;
    } else size += 3;
  }
  return size;
}

function writeUtf8(value: string, out: Uint8Array, start: number): void {
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
      if (code >= 0xd800 && code <= 0xdbff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (value.charCodeAt(++i) - 0xdc00);
        out[pos++] = 0xf0 | (code >> 18);
        out[pos++] = 0x80 | ((code >> 12) & 0x3f);
      } else {
        out[pos++] = 0xe0 | (code >> 12);
      }
      out[pos++] = 0x80 | ((code >> 6) & 0x3f);
    }
    out[pos++] = 0x80 | (code & 0x3f);
  }
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
