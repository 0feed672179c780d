// Reads protocol/vectors/v1 (format: protocol/vectors/README.md) for the tests.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR = fileURLToPath(new URL('../../../protocol/vectors/v1/', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RoundTripCase {
  readonly description: string;
  readonly value: Json;
  readonly msgpack_hex: string;
}

export interface InvalidCase {
  readonly description: string;
  readonly value?: Json;
  readonly msgpack_hex?: string;
  readonly error: string;
}

export interface VectorFile {
  readonly name: string;
  readonly kind: 'codec' | 'messages';
  readonly type?: string;
  readonly limits?: Record<string, number>;
  readonly valid: RoundTripCase[];
  readonly decode_only: RoundTripCase[];
  readonly invalid: InvalidCase[];
}

export function loadVectorFile(name: string): VectorFile {
  return { name, ...(JSON.parse(readFileSync(`${VECTORS_DIR}${name}`, 'utf8')) as Omit<VectorFile, 'name'>) };
}

/** envelope.json and every messages/<type>.json. */
export function loadMessageFiles(): VectorFile[] {
  const names = readdirSync(`${VECTORS_DIR}messages`).filter((name) => name.endsWith('.json')).sort();
  return [loadVectorFile('envelope.json'), ...names.map((name) => loadVectorFile(`messages/${name}`))];
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The JSON form of a value back to a value: {"$bin": hex} becomes a Uint8Array. */
export function fromJson(json: Json): unknown {
  if (Array.isArray(json)) return json.map(fromJson);
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json);
    if (keys.length === 1 && keys[0] === '$bin' && typeof json['$bin'] === 'string') return hex(json['$bin']);
    const out: Record<string, unknown> = {};
    for (const key of keys) Object.defineProperty(out, key, { value: fromJson(json[key]!), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return json;
}

/**
 * Deep equality for decoded values: like toEqual, and every map must be a plain object and every
 * binary a plain Uint8Array. (toStrictEqual compares `constructor` properties, which a map may
 * legitimately hold as an own key.)
 */
export function assertSameValue(actual: unknown, expected: unknown, path = ''): void {
  const fail = (reason: string): never => {
    throw new Error(`${path || 'value'}: ${reason}`);
  };
  if (expected instanceof Uint8Array) {
    if (Object.getPrototypeOf(actual) !== Uint8Array.prototype) fail('expected a plain Uint8Array');
    if (toHex(actual as Uint8Array) !== toHex(expected)) fail(`bytes ${toHex(actual as Uint8Array)} != ${toHex(expected)}`);
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) fail('expected an array');
    const items = actual as unknown[];
    if (items.length !== expected.length) fail(`length ${items.length} != ${expected.length}`);
    expected.forEach((item, i) => assertSameValue(items[i], item, `${path}/${i}`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null || Object.getPrototypeOf(actual) !== Object.prototype) fail('expected a plain object');
    const keys = Object.keys(expected).sort();
    const actualKeys = Object.keys(actual as object).sort();
    if (JSON.stringify(keys) !== JSON.stringify(actualKeys)) fail(`keys ${JSON.stringify(actualKeys)} != ${JSON.stringify(keys)}`);
    for (const key of keys) assertSameValue((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}/${key}`);
    return;
  }
  if (!Object.is(actual, expected)) fail(`${JSON.stringify(actual)} != ${JSON.stringify(expected)}`);
}
