// Schema-driven edits of a valid body: boundary values that must stay valid and mutations that
// must be rejected (missing required, extra property, too long, pattern mismatch, wrong type, …).
// Each edit is only a proposal: the caller keeps it when the oracle agrees with its expectation.
import { isMap, type V1Value } from './vectors-format.js';
import type { Located, Oracle } from './vectors-oracle.js';

export type Path = ReadonlyArray<string | number>;

export interface Edit {
  /** Where, relative to the body. */
  readonly path: Path;
  /** The new value; undefined removes the property. */
  readonly value: V1Value | undefined;
  /** What the edit does, without the path. */
  readonly what: string;
  readonly expect: 'valid' | 'invalid';
  /** The schema node the edit exercises, with the kind of edit: large edits are made once per key. */
  readonly key: string;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const UNICODE_SAMPLE = 'héllo wörld — 你好 😀 e\u0301 שלום';

type Schema = Record<string, unknown>;

function isSchema(node: unknown): node is Schema {
  return typeof node === 'object' && node !== null && !Array.isArray(node);
}

function codePoints(text: string): string[] {
  return Array.from(text);
}

/**
 * The text cut or padded to exactly `length` code points. Padding repeats the last character when
 * it is ASCII (so the text keeps matching its pattern), else 'a'.
 */
function toLength(text: string, length: number): string {
  const chars = codePoints(text);
  if (chars.length >= length) return chars.slice(0, length).join('');
  const last = chars[chars.length - 1];
  const pad = last !== undefined && last < '\u0080' ? last : 'a';
  return chars.join('') + pad.repeat(length - chars.length);
}

/** Values of the wrong type for a schema type, each with its name. */
function wrongTypes(type: string, current: V1Value): Array<[string, V1Value]> {
  switch (type) {
    case 'string':
      return [
        ['an integer', 12_345],
        ['binary (the string as bytes)', new Uint8Array(Buffer.from(typeof current === 'string' ? current : 'x', 'utf8'))],
      ];
    case 'integer':
    case 'number':
      return [['a string of digits', String(typeof current === 'number' ? current : 1)]];
    case 'boolean':
      return [['the integer 1', 1]];
    case 'array':
      return [['a map', {}]];
    case 'object':
      // Empty binary has no keys: a validator that takes bytes for an object accepts it.
      return [
        ['an array', []],
        ['empty binary', new Uint8Array(0)],
      ];
    default:
      return [];
  }
}

/** Walks a schema alongside a valid value and proposes edits. */
export function* proposeEdits(oracle: Oracle, at: Located, value: V1Value, path: Path = []): Generator<Edit> {
  const schema = at.schema;
  if (!isSchema(schema)) return;
  const edit = (what: string, newValue: V1Value | undefined, expect: Edit['expect'], kind: string, where: Path = path): Edit => ({
    path: where,
    value: newValue,
    what,
    expect,
    key: `${at.uri} ${kind}`,
  });

  if (typeof schema['$ref'] === 'string') yield* proposeEdits(oracle, oracle.resolve(at, schema['$ref']), value, path);
  for (const combinator of ['oneOf', 'anyOf'] as const) {
    const branches = schema[combinator];
    if (!Array.isArray(branches)) continue;
    const index = branches.findIndex((_, i) => oracle.matches(oracle.child(at, combinator, i), value));
    if (index >= 0) yield* proposeEdits(oracle, oracle.child(at, combinator, index), value, path);
  }

  if (schema['const'] !== undefined) yield edit(`not the constant ${JSON.stringify(schema['const'])}`, `${String(schema['const'])}-other`, 'invalid', 'const');
  if (Array.isArray(schema['enum'])) {
    for (const member of schema['enum'] as V1Value[]) {
      if (member !== value) yield edit(`= ${JSON.stringify(member)}`, member, 'valid', `enum ${JSON.stringify(member)}`);
    }
    yield edit('not one of the enum values', 'not-a-member', 'invalid', 'enum');
    const first = schema['enum'][0];
    if (typeof first === 'string' && first.toLowerCase() !== first) yield edit('an enum value in the wrong case', first.toLowerCase(), 'invalid', 'enum-case');
  }
  if (typeof schema['type'] === 'string' && path.length > 0) {
    for (const [name, wrong] of wrongTypes(schema['type'], value)) yield edit(`wrong type: ${name} instead of ${schema['type']}`, wrong, 'invalid', `type ${name}`);
  }

  if (typeof value === 'string') yield* stringEdits(schema, value, edit);
  else if (typeof value === 'number') yield* integerEdits(schema, edit);
  else if (Array.isArray(value)) yield* arrayEdits(oracle, at, schema, value, path, edit);
  else if (isMap(value)) yield* objectEdits(oracle, at, schema, value, path, edit);
}

type EditFactory = (what: string, value: V1Value | undefined, expect: Edit['expect'], kind: string, where?: Path) => Edit;

function* stringEdits(schema: Schema, value: string, edit: EditFactory): Generator<Edit> {
  const max = schema['maxLength'];
  const min = schema['minLength'];
  const pattern = schema['pattern'];
  if (typeof max === 'number') {
    yield edit(`at maxLength ${max}`, toLength(value, max), 'valid', 'maxLength');
    yield edit(`longer than maxLength ${max}`, toLength(value, max + 1), 'invalid', 'maxLength+1');
    if (pattern === undefined) {
      // maxLength counts code points: astral characters take two UTF-16 units and four UTF-8 bytes.
      yield edit(`${max} astral characters: maxLength counts code points`, '😀'.repeat(max), 'valid', 'maxLength astral');
      yield edit(`${max + 1} astral characters: longer than maxLength ${max}`, '😀'.repeat(max + 1), 'invalid', 'maxLength+1 astral');
    }
  }
  if (typeof min === 'number' && min >= 1) {
    if (codePoints(value).length > min) yield edit(`at minLength ${min}`, toLength(value, min), 'valid', 'minLength');
    yield edit(`shorter than minLength ${min}`, codePoints(value).slice(0, min - 1).join(''), 'invalid', 'minLength-1');
  } else if (value !== '') {
    yield edit('empty string', '', 'valid', 'empty');
  }
  if (typeof pattern === 'string') {
    const chars = codePoints(value);
    yield edit(`does not match ${pattern}: a space`, [' ', ...chars.slice(1)].join(''), 'invalid', 'pattern space');
    yield edit(`does not match ${pattern}: non-ASCII`, ['é', ...chars.slice(1)].join(''), 'invalid', 'pattern non-ascii');
    // ECMA-262 `$` does not match before a final newline; Python's re and PCRE do by default.
    yield edit(`does not match ${pattern}: a trailing newline`, `${value}\n`, 'invalid', 'pattern newline');
  } else if (typeof max !== 'number' || max >= 32) {
    const sample = typeof max === 'number' ? toLength(UNICODE_SAMPLE, Math.min(max, codePoints(UNICODE_SAMPLE).length)) : UNICODE_SAMPLE;
    yield edit('unicode text (accents, CJK, emoji, a combining mark, RTL)', sample, 'valid', 'unicode');
    yield edit('with NUL and control characters', `a\u0000b\tc\n`, 'valid', 'controls');
  }
}

function* integerEdits(schema: Schema, edit: EditFactory): Generator<Edit> {
  const max = schema['maximum'];
  const min = schema['minimum'];
  if (typeof max === 'number') {
    yield edit(`at maximum ${max}`, max, 'valid', 'maximum');
    if (max + 1 <= MAX_SAFE) yield edit(`above maximum ${max}`, max + 1, 'invalid', 'maximum+1');
  }
  if (typeof min === 'number') {
    yield edit(`at minimum ${min}`, min, 'valid', 'minimum');
    if (min - 1 >= -MAX_SAFE) yield edit(`below minimum ${min}`, min - 1, 'invalid', 'minimum-1');
  }
}

function* arrayEdits(oracle: Oracle, at: Located, schema: Schema, value: readonly V1Value[], path: Path, edit: EditFactory): Generator<Edit> {
  const maxItems = schema['maxItems'];
  const minItems = schema['minItems'];
  const last = value[value.length - 1];
  if (typeof maxItems === 'number' && last !== undefined) {
    const fill = (length: number): V1Value[] => [...value.slice(0, length), ...new Array<V1Value>(Math.max(0, length - value.length)).fill(last)];
    if (maxItems > value.length) yield edit(`at maxItems ${maxItems}`, fill(maxItems), 'valid', 'maxItems');
    yield edit(`more than maxItems ${maxItems}`, fill(maxItems + 1), 'invalid', 'maxItems+1');
  }
  if (typeof minItems === 'number' && minItems >= 1) {
    yield edit(`fewer than minItems ${minItems}`, value.slice(0, minItems - 1), 'invalid', 'minItems-1');
  } else if (value.length > 0) {
    yield edit('empty array', [], 'valid', 'empty');
  }
  const prefix = schema['prefixItems'];
  if (Array.isArray(prefix)) {
    for (let i = 0; i < Math.min(prefix.length, value.length); i++) yield* proposeEdits(oracle, oracle.child(at, 'prefixItems', i), value[i]!, [...path, i]);
  }
  if (schema['items'] === false && last !== undefined) {
    yield edit('an extra item past the tuple', [...value, last], 'invalid', 'items-false');
  } else if (isSchema(schema['items']) && value.length > 0) {
    yield* proposeEdits(oracle, oracle.child(at, 'items'), value[0]!, [...path, 0]);
  }
}

function* objectEdits(
  oracle: Oracle,
  at: Located,
  schema: Schema,
  value: { readonly [key: string]: V1Value },
  path: Path,
  edit: EditFactory,
): Generator<Edit> {
  const required = new Set(Array.isArray(schema['required']) ? (schema['required'] as string[]) : []);
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  for (const key of Object.keys(properties)) {
    if (!Object.hasOwn(value, key)) continue;
    const where = [...path, key];
    if (required.has(key)) {
      yield edit(`missing required property ${key}`, undefined, 'invalid', `required ${key}`, where);
    } else {
      yield edit(`optional property ${key} absent`, undefined, 'valid', `optional ${key}`, where);
      // ENCODING.md §1: an absent field is omitted, never written as nil.
      yield edit(`optional property ${key} written as nil instead of omitted`, null, 'invalid', `nil ${key}`, where);
    }
    yield* proposeEdits(oracle, oracle.child(at, 'properties', key), value[key]!, where);
  }

  const extraKeys = Object.keys(value).filter((key) => !Object.hasOwn(properties, key));
  if (schema['additionalProperties'] === false || isSchema(schema['propertyNames'])) {
    for (const [key, extra] of [
      ['unexpected', 1],
      ['bad key', 'x'],
    ] as const) {
      yield edit(`extra property ${JSON.stringify(key)} = ${JSON.stringify(extra)}`, extra, 'invalid', `extra ${key}`, [...path, key]);
    }
  }
  const first = extraKeys[0];
  if (first !== undefined) {
    const entry = value[first]!;
    const patterns = isSchema(schema['patternProperties']) ? schema['patternProperties'] : {};
    const matching = Object.keys(patterns).find((pattern) => new RegExp(pattern, 'u').test(first));
    if (matching !== undefined) yield* proposeEdits(oracle, oracle.child(at, 'patternProperties', matching), entry, [...path, first]);
    else if (isSchema(schema['additionalProperties'])) yield* proposeEdits(oracle, oracle.child(at, 'additionalProperties'), entry, [...path, first]);
    const maxProperties = schema['maxProperties'];
    if (typeof maxProperties === 'number') {
      const grown = (size: number): Record<string, V1Value> => {
        const out: Record<string, V1Value> = { ...value };
        for (let i = 0; Object.keys(out).length < size; i++) out[`${first}${i}`] = entry;
        return out;
      };
      yield edit(`at maxProperties ${maxProperties}`, grown(maxProperties), 'valid', 'maxProperties', path);
      yield edit(`more than maxProperties ${maxProperties}`, grown(maxProperties + 1), 'invalid', 'maxProperties+1', path);
    }
  } else if (schema['additionalProperties'] !== false && !isSchema(schema['propertyNames']) && Object.keys(properties).length === 0) {
    yield edit('an arbitrary entry', { k: 'v' }, 'valid', 'arbitrary', path);
  }
}
