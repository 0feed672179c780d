// The vector file format (protocol/vectors/README.md): the value model, its JSON form with the
// {"$bin": "<hex>"} convention for binary, and a stable, diff-friendly serialisation.

/** A v1 value (protocol/ENCODING.md §1) as the generator holds it: binary is a Uint8Array. */
export type V1Value = null | boolean | number | string | Uint8Array | readonly V1Value[] | { readonly [key: string]: V1Value };

/** What a vector file holds for a value: binary becomes {"$bin": "<lower-case hex>"}. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The error codes a vector can expect. */
export type VectorError = 'DECODE' | 'TOO_LARGE' | 'VALIDATION' | 'UNSUPPORTED_VERSION' | 'UNKNOWN_TYPE';

/** value ⇄ bytes: an encoder must produce `bytes` exactly, a decoder must turn them into `value`. */
export interface ValidCase {
  readonly description: string;
  readonly value: V1Value;
  readonly bytes: Uint8Array;
}

/** bytes → value only: a non-canonical encoding a decoder must still accept. */
export type DecodeOnlyCase = ValidCase;

/** Rejected with `error`. `bytes` feed a decoder; `value` (when present) feeds a validator. */
export interface InvalidCase {
  readonly description: string;
  readonly value?: V1Value;
  readonly bytes?: Uint8Array;
  readonly error: VectorError;
}

export interface VectorSuite {
  readonly valid: ValidCase[];
  readonly decodeOnly: DecodeOnlyCase[];
  readonly invalid: InvalidCase[];
}

export function emptySuite(): VectorSuite {
  return { valid: [], decodeOnly: [], invalid: [] };
}

export const BIN_KEY = '$bin';

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Parses hex, ignoring whitespace, so hand-written byte strings can be grouped: 'd9 01 61'. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replaceAll(/\s+/g, '');
  if (!/^(?:[0-9a-f]{2})*$/.test(clean)) throw new Error(`not lower-case hex: ${hex.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

export function isMap(value: V1Value): value is { readonly [key: string]: V1Value } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The JSON form of a value. A real map whose only key is "$bin" would be ambiguous, so it is refused. */
export function toJson(value: V1Value): JsonValue {
  if (value instanceof Uint8Array) return { [BIN_KEY]: toHex(value) };
  if (Array.isArray(value)) return value.map(toJson);
  if (isMap(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BIN_KEY) throw new Error('a map whose only key is "$bin" cannot be written in a vector file');
    const out: { [key: string]: JsonValue } = {};
    for (const key of keys) Object.defineProperty(out, key, { value: toJson(value[key]!), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value as JsonValue;
}

/** The inverse of toJson. */
export function fromJson(json: JsonValue): V1Value {
  if (Array.isArray(json)) return json.map(fromJson);
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json);
    if (keys.length === 1 && keys[0] === BIN_KEY && typeof json[BIN_KEY] === 'string') return fromHex(json[BIN_KEY]);
    const out: { [key: string]: V1Value } = {};
    for (const key of keys) Object.defineProperty(out, key, { value: fromJson(json[key]!), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return json;
}

/** Structural equality of two values; binary compares by bytes, maps ignore key order. */
export function sameValue(a: V1Value, b: V1Value): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]!));
  }
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key]!, b[key]!));
  }
  return Object.is(a, b);
}

// Characters that are invisible or ambiguous in an editor (controls, format characters such as
// the BOM and RTL marks, combining marks, separators, private use) are written as \u escapes.
const INVISIBLE = /[\p{C}\p{M}\p{Z}]/gu;

function escapeInvisible(json: string): string {
  return json.replace(INVISIBLE, (char) => {
    if (char === ' ') return char;
    let out = '';
    for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

function line(value: unknown): string {
  return escapeInvisible(JSON.stringify(value));
}

function caseJson(entry: ValidCase | InvalidCase): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = { description: entry.description };
  if (entry.value !== undefined) out['value'] = toJson(entry.value);
  if (entry.bytes !== undefined) out['msgpack_hex'] = toHex(entry.bytes);
  if ('error' in entry) out['error'] = entry.error;
  return out;
}

/**
 * Serialises a vector file: header fields first, then the three case lists with one case per line,
 * so a regenerated file diffs case by case. The output is plain JSON.
 */
export function formatVectorFile(header: Record<string, JsonValue>, suite: VectorSuite): string {
  const parts = Object.entries(header).map(([key, value]) => `  ${JSON.stringify(key)}: ${line(value)}`);
  const list = (name: string, cases: readonly (ValidCase | InvalidCase)[]): string =>
    cases.length === 0 ? `  "${name}": []` : `  "${name}": [\n${cases.map((entry) => `    ${line(caseJson(entry))}`).join(',\n')}\n  ]`;
  parts.push(list('valid', suite.valid), list('decode_only', suite.decodeOnly), list('invalid', suite.invalid));
  return `{\n${parts.join(',\n')}\n}\n`;
}
