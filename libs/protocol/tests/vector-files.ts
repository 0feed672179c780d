// Reads the message vectors of protocol/vectors/v1 (format: protocol/vectors/README.md).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const VECTORS_DIR = fileURLToPath(new URL('../../../protocol/vectors/v1/', import.meta.url));

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface MessageVectorFile {
  readonly name: string;
  readonly type?: string;
  readonly valid: Array<{ description: string; value: Json }>;
  readonly decode_only: Array<{ description: string; value: Json }>;
  readonly invalid: Array<{ description: string; value?: Json; msgpack_hex?: string; error: string }>;
}

export function messageVectorPath(type: string): string {
  return `${VECTORS_DIR}messages/${type}.json`;
}

export function hasMessageVectors(type: string): boolean {
  return existsSync(messageVectorPath(type));
}

/** envelope.json and every messages/<type>.json. */
export function loadMessageFiles(): MessageVectorFile[] {
  const names = ['envelope.json', ...readdirSync(`${VECTORS_DIR}messages`).filter((name) => name.endsWith('.json')).sort().map((name) => `messages/${name}`)];
  return names.map((name) => ({ name, ...(JSON.parse(readFileSync(`${VECTORS_DIR}${name}`, 'utf8')) as Omit<MessageVectorFile, 'name'>) }));
}

/**
 * A vector value as the validators see it. JSON Schema has no binary type, so {"$bin": …} becomes an
 * opaque value of no JSON type (as @correio/codec presents binary to them): only untyped schemas accept it.
 */
export function forValidators(json: Json): unknown {
  if (Array.isArray(json)) return json.map(forValidators);
  if (typeof json === 'object' && json !== null) {
    const keys = Object.keys(json);
    if (keys.length === 1 && keys[0] === '$bin') return Symbol('binary');
    const out: Record<string, unknown> = {};
    for (const key of keys) Object.defineProperty(out, key, { value: forValidators(json[key]!), enumerable: true });
    return out;
  }
  return json;
}
