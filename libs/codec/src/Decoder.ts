import { DecodeError, TooLargeError } from './errors.js';
import { resolveLimits, type Limits } from './limits.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Strict decoder for the v1 value model (protocol/ENCODING.md): accepts every integer width,
 * rejects floats, extensions, 0xc1, non-string or duplicate map keys, `__proto__`, invalid UTF-8,
 * integers beyond ±(2^53-1), truncation and trailing bytes, and enforces the limits before
 * allocating. Errors are DecodeError or TooLargeError; nothing else escapes.
 */
export class Decoder {
  readonly limits: Limits;
  #bytes: Uint8Array = new Uint8Array(0);
  #view: DataView = new DataView(this.#bytes.buffer);
  #pos = 0;
  #sawBinary = false;

  constructor(limits: Partial<Limits> = {}) {
    this.limits = resolveLimits(limits);
  }

  decode(bytes: Uint8Array): unknown {
    return this.#over(bytes, 'message', () => {
      const value = this.#read(0);
      if (this.#pos !== bytes.byteLength) {
        throw new DecodeError(`${bytes.byteLength - this.#pos} trailing bytes after the value at offset ${this.#pos}`);
      }
      return value;
    });
  }

  /**
   * Decodes exactly `count` values written back to back (a pub/sub batch, protocol/FRAMES.md
   * §3.2): the same checks as `decode` for each, `maxBytes` for the whole, and DecodeError unless
   * the values fill `bytes` exactly. `sawBinary` then covers all of them.
   */
  decodeSequence(bytes: Uint8Array, count: number): unknown[] {
    return this.#over(bytes, 'frame', () => {
      const values = new Array<unknown>(count);
      for (let i = 0; i < count; i++) {
        if (this.#pos === bytes.byteLength) throw new DecodeError(`expected ${count} values, the bytes end after ${i}`);
        values[i] = this.#read(0);
      }
      if (this.#pos !== bytes.byteLength) {
        throw new DecodeError(`${bytes.byteLength - this.#pos} bytes after the ${count} expected values at offset ${this.#pos}`);
      }
      return values;
    });
  }

  /** Runs `read` over `bytes` (checked against maxBytes first), then lets go of them. */
  #over<T>(bytes: Uint8Array, what: string, read: () => T): T {
    if (bytes.byteLength > this.limits.maxBytes) {
      throw new TooLargeError(`${what} of ${bytes.byteLength} bytes exceeds the ${this.limits.maxBytes}-byte limit`);
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#pos = 0;
    this.#sawBinary = false;
    try {
      return read();
    } finally {
      this.#bytes = EMPTY;
      this.#view = EMPTY_VIEW;
    }
  }

  #read(depth: number): unknown {
    const byte = this.#u8();
    if (byte < 0x80) return byte;
    if (byte >= 0xe0) return byte - 0x100;
    if (byte >= 0xa0 && byte <= 0xbf) return this.#string(byte & 0x1f);
    if (byte >= 0x90 && byte <= 0x9f) return this.#array(byte & 0x0f, depth);
    if (byte >= 0x80 && byte <= 0x8f) return this.#map(byte & 0x0f, depth);
    switch (byte) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.#binary(this.#u8());
      case 0xc5:
        return this.#binary(this.#u16());
      case 0xc6:
        return this.#binary(this.#u32());
      case 0xcc:
        return this.#u8();
      case 0xcd:
        return this.#u16();
      case 0xce:
        return this.#u32();
      case 0xcf:
        return this.#u64();
      case 0xd0:
        return this.#signed(1, (at) => this.#view.getInt8(at));
      case 0xd1:
        return this.#signed(2, (at) => this.#view.getInt16(at));
      case 0xd2:
        return this.#signed(4, (at) => this.#view.getInt32(at));
      case 0xd3:
        return this.#i64();
      case 0xd9:
        return this.#string(this.#u8());
      case 0xda:
        return this.#string(this.#u16());
      case 0xdb:
        return this.#string(this.#u32());
      case 0xdc:
        return this.#array(this.#u16(), depth);
      case 0xdd:
        return this.#array(this.#u32(), depth);
      case 0xde:
        return this.#map(this.#u16(), depth);
      case 0xdf:
        return this.#map(this.#u32(), depth);
      case 0xca:
      case 0xcb:
        throw this.#error(1, 'floats are not part of v1');
      case 0xc1:
        throw this.#error(1, 'byte 0xc1 is never used in MessagePack');
      default:
        throw this.#error(1, `extension type 0x${byte.toString(16)} is not part of v1`);
    }
  }

  #string(size: number): string {
    this.#need(size);
    if (size > this.limits.maxStringBytes) {
      throw new TooLargeError(`string of ${size} bytes exceeds the ${this.limits.maxStringBytes}-byte limit`);
    }
    const start = this.#pos;
    this.#pos += size;
    if (size <= 16) {
      // Short ASCII strings (keys, names) skip TextDecoder's call overhead.
      let ascii = '';
      for (let i = start; i < start + size; i++) {
        const unit = this.#bytes[i]!;
        if (unit >= 0x80) return this.#decodeUtf8(start, size);
        ascii += String.fromCharCode(unit);
      }
      return ascii;
    }
    return this.#decodeUtf8(start, size);
  }

  #decodeUtf8(start: number, size: number): string {
    try {
      return utf8.decode(this.#bytes.subarray(start, start + size));
    } catch {
      throw new DecodeError(`invalid UTF-8 in the string at offset ${start}`);
    }
  }

  /** Whether the last decoded value held a binary anywhere (most messages hold none). */
  get sawBinary(): boolean {
    return this.#sawBinary;
  }

  #binary(size: number): Uint8Array {
    this.#sawBinary = true;
    this.#need(size);
    if (size > this.limits.maxBinBytes) {
      throw new TooLargeError(`binary of ${size} bytes exceeds the ${this.limits.maxBinBytes}-byte limit`);
    }
    // A copy, as a plain Uint8Array: Buffer#slice (zeromq delivers Buffers) would alias the frame.
    const value = new Uint8Array(this.#bytes.subarray(this.#pos, this.#pos + size));
    this.#pos += size;
    return value;
  }

  #array(length: number, depth: number): unknown[] {
    this.#enter(depth, length, this.limits.maxArrayLength, 'array', 1);
    const items = new Array<unknown>(length);
    for (let i = 0; i < length; i++) items[i] = this.#read(depth + 1);
    return items;
  }

  #map(size: number, depth: number): Record<string, unknown> {
    this.#enter(depth, size, this.limits.maxMapSize, 'map', 2);
    const map: Record<string, unknown> = {};
    for (let i = 0; i < size; i++) {
      const keyOffset = this.#pos;
      const key = this.#key();
      if (key === '__proto__') throw new DecodeError(`the map key __proto__ at offset ${keyOffset} is not allowed`);
      if (Object.hasOwn(map, key)) throw new DecodeError(`duplicate map key ${JSON.stringify(key)} at offset ${keyOffset}`);
      map[key] = this.#read(depth + 1);
    }
    return map;
  }

  #key(): string {
    const byte = this.#u8();
    if (byte >= 0xa0 && byte <= 0xbf) return this.#shortKey(byte & 0x1f);
    if (byte === 0xd9) return this.#string(this.#u8());
    if (byte === 0xda) return this.#string(this.#u16());
    if (byte === 0xdb) return this.#string(this.#u32());
    throw this.#error(1, 'map keys must be strings');
  }

  /**
   * Keys repeat from message to message: a short ASCII key is looked up by a hash of its bytes in
   * a small table of strings already made (the technique of msgpack-javascript's key cache), which
   * saves building and internalising a new string for every key of every message.
   */
  #shortKey(size: number): string {
    if (size > KEY_CACHE_MAX_LENGTH || size > this.limits.maxStringBytes) return this.#string(size);
    this.#need(size);
    const bytes = this.#bytes;
    const start = this.#pos;
    let hash = size;
    for (let i = start; i < start + size; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const slot = (hash >>> 0) & (KEY_CACHE_SLOTS - 1);
    const cached = keyCache[slot];
    if (cached !== undefined && cached.length === size && sameAscii(cached, bytes, start)) {
      this.#pos += size;
      return cached;
    }
    const key = this.#string(size);
    if (key.length === size) keyCache[slot] = key; // ASCII only: one byte per UTF-16 unit
    return key;
  }

  /** Checks depth and count limits, and that the remaining bytes could hold `count` items at all. */
  #enter(depth: number, count: number, max: number, kind: string, minBytesPerItem: number): void {
    if (depth + 1 > this.limits.maxDepth) {
      throw new TooLargeError(`nesting deeper than ${this.limits.maxDepth} at offset ${this.#pos - 1}`);
    }
    if (count * minBytesPerItem > this.#bytes.byteLength - this.#pos) {
      throw new DecodeError(`${kind} of ${count} items at offset ${this.#pos} runs past the end of the message`);
    }
    if (count > max) throw new TooLargeError(`${kind} of ${count} items exceeds the limit of ${max}`);
  }

  #u8(): number {
    this.#need(1);
    return this.#bytes[this.#pos++]!;
  }

  #u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return value;
  }

  #u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return value;
  }

  #u64(): number {
    this.#need(8);
    const high = this.#view.getUint32(this.#pos);
    const low = this.#view.getUint32(this.#pos + 4);
    if (high > 0x1fffff) throw this.#error(1, 'integer beyond 2^53-1');
    this.#pos += 8;
    return high * 0x100000000 + low;
  }

  #i64(): number {
    this.#need(8);
    const value = this.#view.getInt32(this.#pos) * 0x100000000 + this.#view.getUint32(this.#pos + 4);
    if (!Number.isSafeInteger(value)) throw this.#error(1, 'integer beyond ±(2^53-1)');
    this.#pos += 8;
    return value;
  }

  #signed(size: number, read: (at: number) => number): number {
    this.#need(size);
    const value = read(this.#pos);
    this.#pos += size;
    return value;
  }

  #need(size: number): void {
    if (size > this.#bytes.byteLength - this.#pos) {
      throw new DecodeError(`truncated: ${size} bytes needed at offset ${this.#pos}, ${this.#bytes.byteLength - this.#pos} left`);
    }
  }

  #error(back: number, reason: string): DecodeError {
    return new DecodeError(`${reason} (offset ${this.#pos - back})`);
  }
}

const KEY_CACHE_SLOTS = 1024;
const KEY_CACHE_MAX_LENGTH = 16;
const keyCache: Array<string | undefined> = new Array<string | undefined>(KEY_CACHE_SLOTS).fill(undefined);

function sameAscii(text: string, bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) !== bytes[start + i]) return false;
  return true;
}

const EMPTY = new Uint8Array(0);
const EMPTY_VIEW = new DataView(EMPTY.buffer);

const shared = new Decoder();

/** Decodes one value with the default limits. */
export function decode(bytes: Uint8Array): unknown {
  return shared.decode(bytes);
}
