// Decides what a message vector must produce, from the schemas and ENCODING.md alone (not from
// @correio/codec): the limits of §2, then the envelope checks of §3 in their prescribed order.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { SchemaSet } from './schemas.js';
import { VECTOR_LIMITS } from './vectors-codec.js';
import { isMap, type V1Value, type VectorError } from './vectors-format.js';
import { referenceEncode } from './vectors-reference.js';

/** A JSON Schema node together with the URI it lives at, so relative $refs resolve. */
export interface Located {
  readonly schema: unknown;
  /** Absolute URI of the node: document $id + '#' + JSON pointer. */
  readonly uri: string;
}

// JSON Schema has no binary type. A binary stands in as a bigint while validating: it then matches
// only untyped (`any`) schemas, as a byte string would in a language with a real bytes type.
const OPAQUE_BINARY = 0n;

function forValidation(value: V1Value): unknown {
  if (value instanceof Uint8Array) return OPAQUE_BINARY;
  if (Array.isArray(value)) return value.map(forValidation);
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) Object.defineProperty(out, key, { value: forValidation(value[key]!), enumerable: true });
    return out;
  }
  return value;
}

function escapePointer(token: string | number): string {
  return String(token).replaceAll('~', '~0').replaceAll('/', '~1');
}

export class Oracle {
  readonly types: ReadonlySet<string>;
  readonly #ajv: Ajv2020;
  readonly #documents = new Map<string, unknown>();
  readonly #messageUris = new Map<string, string>();
  readonly #envelope: ValidateFunction;

  constructor(set: SchemaSet) {
    // Annotation keywords (x-correio-*, tsType) do not change validation; validators.ts, which
    // generates the shipped validators, is the one that is strict about the schemas.
    this.#ajv = new Ajv2020({ strictSchema: false, allErrors: false });
    for (const schema of set.all) {
      this.#ajv.addSchema(schema);
      this.#documents.set(schema.$id, schema);
    }
    for (const message of set.messages) this.#messageUris.set(message.type, `${message.schema.$id}#`);
    this.types = new Set(set.messages.map((message) => message.type));
    this.#envelope = this.#compiled(`${set.envelope.$id}#`);
  }

  /** The root of a message type's body schema. */
  body(type: string): Located {
    const uri = this.#messageUris.get(type);
    if (!uri) throw new Error(`no schema for ${type}`);
    return this.locate(uri);
  }

  locate(uri: string): Located {
    const [document, pointer = ''] = uri.split('#');
    let node: unknown = this.#documents.get(document!);
    if (node === undefined) throw new Error(`unknown schema ${document}`);
    for (const token of pointer.split('/').slice(1)) {
      node = (node as Record<string, unknown>)[token.replaceAll('~1', '/').replaceAll('~0', '~')];
      if (node === undefined) throw new Error(`${uri} does not resolve`);
    }
    return { schema: node, uri: `${document}#${pointer}` };
  }

  /** A $ref, resolved against the URI of the node that holds it. */
  resolve(from: Located, ref: string): Located {
    const url = new URL(ref, from.uri.split('#')[0]);
    return this.locate(`${url.origin}${url.pathname}#${decodeURIComponent(url.hash.slice(1))}`);
  }

  child(from: Located, ...tokens: Array<string | number>): Located {
    let node = from.schema;
    for (const token of tokens) node = (node as Record<string | number, unknown>)[token];
    return { schema: node, uri: `${from.uri}${tokens.map((token) => `/${escapePointer(token)}`).join('')}` };
  }

  /** True when `value` is valid against the schema node. */
  matches(at: Located, value: V1Value): boolean {
    return this.#compiled(at.uri)(forValidation(value));
  }

  /**
   * The error a conforming decoder must report for an envelope value, or undefined when it is valid.
   * Order: limits (TOO_LARGE), a map whose v is an integer (VALIDATION), v = 1 (UNSUPPORTED_VERSION),
   * the envelope schema (VALIDATION), the type (UNKNOWN_TYPE), the body schema (VALIDATION).
   */
  classify(value: V1Value): VectorError | undefined {
    if (exceedsLimits(value)) return 'TOO_LARGE';
    if (!isMap(value)) return 'VALIDATION';
    const version = value['v'];
    if (typeof version !== 'number' || !Number.isInteger(version)) return 'VALIDATION';
    if (version !== 1) return 'UNSUPPORTED_VERSION';
    if (!this.#envelope(forValidation(value))) return 'VALIDATION';
    const type = value['type'] as string;
    if (!this.types.has(type)) return 'UNKNOWN_TYPE';
    return this.matches(this.body(type), value['body']!) ? undefined : 'VALIDATION';
  }

  #compiled(uri: string): ValidateFunction {
    const validate = this.#ajv.getSchema(uri);
    if (!validate) throw new Error(`ajv cannot compile ${uri}`);
    return validate;
  }
}

/** True when decoding the value's canonical bytes must fail a limit of ENCODING.md §2. */
export function exceedsLimits(value: V1Value): boolean {
  if (referenceEncode(value).byteLength > VECTOR_LIMITS.maxBytes) return true;
  const visit = (item: V1Value, depth: number): boolean => {
    if (typeof item === 'string') return Buffer.byteLength(item, 'utf8') > VECTOR_LIMITS.maxStringBytes;
    if (item instanceof Uint8Array) return item.byteLength > VECTOR_LIMITS.maxBinBytes;
    if (Array.isArray(item)) {
      if (depth + 1 > VECTOR_LIMITS.maxDepth || item.length > VECTOR_LIMITS.maxArrayLength) return true;
      return item.some((child) => visit(child, depth + 1));
    }
    if (isMap(item)) {
      const keys = Object.keys(item);
      if (depth + 1 > VECTOR_LIMITS.maxDepth || keys.length > VECTOR_LIMITS.maxMapSize) return true;
      return keys.some((key) => Buffer.byteLength(key, 'utf8') > VECTOR_LIMITS.maxStringBytes || visit(item[key]!, depth + 1));
    }
    return false;
  };
  return visit(value, 0);
}
