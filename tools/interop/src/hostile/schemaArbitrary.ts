import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anyValue } from './anyValue.js';
import { boundaryInteger } from './boundaries.js';

/** A JSON Schema node, as parsed from protocol/schemas (draft 2020-12). */
export type JsonSchema = { readonly [keyword: string]: unknown };

export interface SchemaArbitraryOptions {
  /**
   * Values mixed into every instance of a defs.json definition, by name: real server ids for
   * `nodeId`, existing users and channels, cursors a server issues, times around now. Random
   * values almost never name something that exists, so without pools most requests would stop at
   * the first lookup instead of reaching the code behind it.
   */
  readonly pools?: Readonly<Record<string, readonly unknown[]>>;
  /** The decoder's nesting limit (ENCODING.md §2): untyped values nest exactly up to it. */
  readonly maxDepth: number;
  /** The decoder's message size limit: arrays of large items hold at most as many as fit in it. */
  readonly maxBytes: number;
}

/** Items or entries generated where a schema sets no maximum. */
const UNBOUNDED_COUNT = 32;
/** Code points generated where a string schema sets no maxLength. */
const UNBOUNDED_LENGTH = 256;
/** `^[class]{m,n}$`: a pattern whose every length can be generated directly (the classes of protocol/ are ASCII). */
const CLASS_REPEAT = /^\^(\[(?:\\.|[^\]\\])+\])\{(\d+),(\d+)\}\$$/;
const ASCII = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code));
/** Code points that break naive code: NUL, controls, bidi overrides, a BOM, astral planes, separators, quotes. */
const AWKWARD_CHARS = ['\u0000', '\u0007', '\n', '\r', '\u202e', '\u200b', '\ufeff', '\uffff', '😀', '𝕏', '/', '\\', '%', '"', "'", '.', ' '];

/**
 * fast-check arbitraries for the protocol's JSON Schemas, biased to the edges: integers at their
 * minimum, maximum and every MessagePack format boundary; strings and arrays at their minimum and
 * maximum lengths; every enum value and const; optional fields all present or all absent as
 * often as mixed; untyped values nested to the decoder's limit. Covers the keywords protocol/
 * uses ($ref across files, const, enum, oneOf, integer/string/boolean/array/object with their
 * bounds, pattern, prefixItems, additionalProperties and patternProperties with propertyNames and
 * maxProperties); a schema using another keyword throws, so a schema change cannot silently
 * produce invalid values (the corpus asserts every value against the real validators anyway).
 */
export class SchemaArbitraries {
  readonly #documents: ReadonlyMap<string, JsonSchema>;
  readonly #options: SchemaArbitraryOptions;
  readonly #cache = new WeakMap<JsonSchema, Map<number, fc.Arbitrary<unknown>>>();

  constructor(documents: ReadonlyMap<string, JsonSchema>, options: SchemaArbitraryOptions) {
    this.#documents = documents;
    this.#options = options;
  }

  /** Reads every schema file of a folder (protocol/schemas/v1), keyed by file name. */
  static load(folder: string, options: SchemaArbitraryOptions): SchemaArbitraries {
    const documents = new Map<string, JsonSchema>();
    for (const file of readdirSync(folder).filter((name) => name.endsWith('.json')).sort()) {
      documents.set(file, JSON.parse(readFileSync(join(folder, file), 'utf8')) as JsonSchema);
    }
    return new SchemaArbitraries(documents, options);
  }

  /** Values valid against the schema file `file` (such as `chat.login.request.json`), sitting `depth` maps/arrays deep. */
  of(file: string, depth: number): fc.Arbitrary<unknown> {
    return this.#build(this.#document(file), file, depth);
  }

  /** Values valid against one shared definition of defs.json (such as `nodeId`), pool included. */
  definition(name: string, depth: number): fc.Arbitrary<unknown> {
    return this.#reference(`defs.json#/$defs/${name}`, 'defs.json', depth);
  }

  #document(file: string): JsonSchema {
    const document = this.#documents.get(file);
    if (!document) throw new Error(`no schema ${file}`);
    return document;
  }

  #build(node: JsonSchema, file: string, depth: number): fc.Arbitrary<unknown> {
    let byDepth = this.#cache.get(node);
    if (!byDepth) this.#cache.set(node, (byDepth = new Map()));
    let arbitrary = byDepth.get(depth);
    if (!arbitrary) byDepth.set(depth, (arbitrary = this.#make(node, file, depth)));
    return arbitrary;
  }

  #make(node: JsonSchema, file: string, depth: number): fc.Arbitrary<unknown> {
    if (typeof node['$ref'] === 'string') return this.#reference(node['$ref'], file, depth);
    if ('const' in node) return fc.constant(node['const']);
    if (Array.isArray(node['enum'])) return fc.constantFrom(...(node['enum'] as unknown[]));
    if (Array.isArray(node['oneOf'])) return fc.oneof(...(node['oneOf'] as JsonSchema[]).map((branch) => this.#build(branch, file, depth)));
    switch (node['type']) {
      case 'integer':
        return boundaryInteger(node['minimum'] as number | undefined, node['maximum'] as number | undefined);
      case 'boolean':
        return fc.boolean();
      case 'string':
        return this.#string(node);
      case 'array':
        return this.#array(node, file, depth);
      case 'object':
        return this.#object(node, file, depth);
      case undefined:
        // No type at all (a `tsType: unknown` payload): any value of the data model.
        return anyValue(this.#options.maxDepth - depth);
      default:
        throw new Error(`${file}: the hostile corpus does not generate type ${JSON.stringify(node['type'])}`);
    }
  }

  #reference(ref: string, file: string, depth: number): fc.Arbitrary<unknown> {
    const [target = '', pointer = ''] = ref.split('#');
    const targetFile = target === '' ? file : target;
    const generated = this.#build(this.#resolve(targetFile, pointer), targetFile, depth);
    const pool = this.#options.pools?.[pointer.split('/').pop() ?? ''];
    return pool && pool.length > 0 ? fc.oneof(fc.constantFrom(...pool), generated) : generated;
  }

  #string(node: JsonSchema): fc.Arbitrary<string> {
    const min = (node['minLength'] as number | undefined) ?? 0;
    const max = (node['maxLength'] as number | undefined) ?? UNBOUNDED_LENGTH;
    const pattern = node['pattern'] as string | undefined;
    if (pattern === undefined) {
      const unit = fc.oneof(fc.constantFrom(...AWKWARD_CHARS), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }));
      return boundaryLength(min, max).chain((length) => stringOfLength(unit, length));
    }
    const simple = CLASS_REPEAT.exec(pattern);
    if (simple) {
      const unit = fc.constantFrom(...ASCII.filter((char) => new RegExp(`^${simple[1]}$`).test(char)));
      const low = Math.max(min, Number(simple[2]));
      const high = Math.min(max, Number(simple[3]));
      return boundaryLength(low, high).chain((length) => stringOfLength(unit, length));
    }
    // A structured pattern (dotted names): fast-check's own matcher, short and long, the long ones
    // cut back to the longest prefix that still matches within maxLength.
    const regex = new RegExp(pattern);
    const fits = (value: string) => regex.test(value) && [...value].length >= min && [...value].length <= max;
    const long = fc
      .stringMatching(regex, { size: 'medium' })
      .map((value) => {
        let cut = [...value].slice(0, max).join('');
        while (cut.length > 0 && !fits(cut)) cut = cut.slice(0, -1);
        return cut;
      })
      .filter(fits);
    return fc.oneof(fc.stringMatching(regex).filter(fits), long);
  }

  #array(node: JsonSchema, file: string, depth: number): fc.Arbitrary<unknown[]> {
    if (Array.isArray(node['prefixItems'])) {
      if (node['items'] !== false) throw new Error(`${file}: prefixItems with more items is not generated`);
      return fc.tuple(...(node['prefixItems'] as JsonSchema[]).map((item) => this.#build(item, file, depth + 1)));
    }
    const item = this.#build(node['items'] as JsonSchema, file, depth + 1);
    const min = (node['minItems'] as number | undefined) ?? 0;
    // 500 items of 16 KB each cannot be sent: the longest array is the most largest items that fit.
    const fitting = Math.floor(this.#options.maxBytes / this.#largest(node['items'] as JsonSchema, file));
    const max = Math.max(min, Math.min((node['maxItems'] as number | undefined) ?? UNBOUNDED_COUNT, fitting));
    return boundaryLength(min, max).chain((length) => fc.array(item, { minLength: length, maxLength: length }));
  }

  #object(node: JsonSchema, file: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
    const properties = (node['properties'] as Record<string, JsonSchema> | undefined) ?? {};
    const required = new Set((node['required'] as string[] | undefined) ?? []);
    const fields = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, this.#build(value, file, depth + 1)]));
    const optional = Object.keys(properties).filter((key) => !required.has(key));
    // All optional fields, none, or any mix: the extremes are where defaults and absent checks meet.
    const present = fc.oneof(fc.constant(optional), fc.constant([]), fc.subarray(optional));
    const fixed = present.chain((keys) => fc.record(Object.fromEntries([...required, ...keys].map((key) => [key, fields[key]!]))));
    const extra = this.#extraEntries(node, file, depth);
    if (!extra) return fixed as fc.Arbitrary<Record<string, unknown>>;
    return fc.tuple(fixed, extra).map(([known, more]) => ({ ...more, ...known }));
  }

  /** The most bytes a value of the schema encodes to (Infinity for untyped values). */
  #largest(node: JsonSchema, file: string): number {
    if (typeof node['$ref'] === 'string') {
      const [target = '', pointer = ''] = node['$ref'].split('#');
      return this.#largest(this.#resolve(target === '' ? file : target, pointer), target === '' ? file : target);
    }
    if ('const' in node || Array.isArray(node['enum'])) return JSON.stringify(node['const'] ?? node['enum']).length + 5;
    if (Array.isArray(node['oneOf'])) return Math.max(...(node['oneOf'] as JsonSchema[]).map((branch) => this.#largest(branch, file)));
    const properties = Object.values((node['properties'] as Record<string, JsonSchema> | undefined) ?? {});
    switch (node['type']) {
      case 'integer':
        return 9;
      case 'boolean':
        return 1;
      case 'string': // up to 4 UTF-8 bytes per code point, and the length prefix
        return 4 * ((node['maxLength'] as number | undefined) ?? UNBOUNDED_LENGTH) + 5;
      case 'array':
        return 5 + (Array.isArray(node['prefixItems']) ? (node['prefixItems'] as JsonSchema[]).reduce((sum, item) => sum + this.#largest(item, file), 0) : ((node['maxItems'] as number | undefined) ?? UNBOUNDED_COUNT) * this.#largest(node['items'] as JsonSchema, file));
      case 'object': // keys are short next to the values; 64 bytes each is plenty
        return 5 + properties.reduce((sum, value) => sum + 64 + this.#largest(value, file), 0) + (this.#extraEntries(node, file, 0) ? Infinity : 0);
      default:
        return Infinity;
    }
  }

  #resolve(file: string, pointer: string): JsonSchema {
    let node: unknown = this.#document(file);
    for (const part of pointer.split('/').filter(Boolean)) node = (node as Record<string, unknown>)[part];
    if (typeof node !== 'object' || node === null) throw new Error(`${file}: unresolvable pointer #${pointer}`);
    return node as JsonSchema;
  }

  /** The free-form entries of a map schema (additionalProperties or patternProperties as a schema), if it has any. */
  #extraEntries(node: JsonSchema, file: string, depth: number): fc.Arbitrary<Record<string, unknown>> | undefined {
    const patterns = node['patternProperties'] as Record<string, JsonSchema> | undefined;
    const additional = node['additionalProperties'];
    let keys: fc.Arbitrary<string>;
    let values: fc.Arbitrary<unknown>;
    if (patterns) {
      const entries = Object.entries(patterns);
      if (entries.length !== 1) throw new Error(`${file}: only one patternProperties pattern is generated`);
      const [pattern, value] = entries[0]!;
      keys = this.#string({ type: 'string', pattern });
      values = this.#build(value, file, depth + 1);
    } else if (typeof additional === 'object' && additional !== null) {
      // Names may be a $ref or an enum (a task queue, a task state): built like any other value.
      const names = node['propertyNames'] as JsonSchema | undefined;
      keys = names === undefined ? this.#string({ type: 'string', maxLength: 64 }) : (this.#build(names, file, depth + 1) as fc.Arbitrary<string>);
      values = this.#build(additional as JsonSchema, file, depth + 1);
    } else {
      return undefined;
    }
    const max = (node['maxProperties'] as number | undefined) ?? UNBOUNDED_COUNT;
    const safeKeys = keys.filter((key) => key !== '__proto__'); // rejected by every decoder (ENCODING.md §1)
    return boundaryLength(0, max).chain((count) =>
      fc.uniqueArray(fc.tuple(safeKeys, values), { minLength: count, maxLength: count, selector: ([key]) => key }).map((pairs) => Object.fromEntries(pairs)),
    );
  }
}

/** Code points drawn one by one; a longer string repeats a drawn run of this many (drawing 4000 each time is slow). */
const TILE = 64;

/** A string of exactly `length` code points from `unit` (one code point per draw). */
function stringOfLength(unit: fc.Arbitrary<string>, length: number): fc.Arbitrary<string> {
  if (length <= TILE) return fc.string({ unit, minLength: length, maxLength: length });
  return fc.string({ unit, minLength: 1, maxLength: TILE }).map((run) => {
    const points = [...run];
    return Array.from({ length }, (_, i) => points[i % points.length]).join('');
  });
}

/** A length or count from min to max: either end as often as anything between. */
export function boundaryLength(min: number, max: number): fc.Arbitrary<number> {
  return fc.oneof(fc.constant(max), fc.constant(min), fc.integer({ min, max }));
}
