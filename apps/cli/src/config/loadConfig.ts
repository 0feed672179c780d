import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, isMap, isPair, isScalar, parseDocument, type Document } from 'yaml';
import { SECTION_NAMES, sectionCommand, type SectionName } from '../programs.js';
import { ConfigError, type ConfigProblem } from './ConfigError.js';

/** The values of one section, as written in the file (validated against the schema). */
export type SectionValues = Readonly<Record<string, unknown>>;

/** A validated config file. */
export interface CorreioConfig {
  /** Absolute path of the file. */
  readonly file: string;
  readonly sections: Readonly<Partial<Record<SectionName | 'up', SectionValues>>>;
}

/** The schema file ships next to src/ and dist/, so both find it one level up. */
const SCHEMA_URL = new URL('../../config.schema.json', import.meta.url);

let validator: ValidateFunction | undefined;

/** The JSON Schema every config file is checked against (apps/cli/config.schema.json). */
export function configSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
}

function compiledValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
    // `x-expected` says, for people, what a value should look like; the formatter quotes it.
    ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
    validator = ajv.compile(withEveryOption(configSchema()));
  }
  return validator;
}

/**
 * The schema, plus any option a program has gained since the schema file was last brought up to
 * date (tests/config.test.ts fails until it is): such a key is accepted here and checked by the
 * program's own parser when it runs, rather than refused as unknown.
 */
function withEveryOption(schema: Record<string, unknown>): Record<string, unknown> {
  const definitions = schema['$defs'] as Record<string, { properties: Record<string, unknown> }>;
  for (const section of SECTION_NAMES) {
    const properties = definitions[section]!.properties;
    for (const option of sectionCommand(section).options) {
      properties[option.attributeName()] ??= { 'x-expected': `a value for ${option.long} (see \`correio ${section === 'bot' ? 'client bot' : section} --help\`)` };
    }
  }
  return schema;
}

/**
 * Reads, parses (YAML 1.2, so JSON too) and validates a config file. Throws a ConfigError that
 * lists every problem with its line, key, what is wrong and what is expected.
 */
export function loadConfig(path: string): CorreioConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new ConfigError(path, [{ key: '', message: `cannot read it (${reason}); check the path given to --config or CORREIO_CONFIG.` }]);
  }
  return parseConfig(text, path, file);
}

/** Validates config text; `name` is what messages call the file. */
export function parseConfig(text: string, name = '<config>', file = name): CorreioConfig {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      name,
      document.errors.map((error) => ({
        key: '',
        ...(error.linePos ? { line: error.linePos[0].line } : {}),
        message: `not valid YAML or JSON: ${firstLine(error.message)}`,
      })),
    );
  }
  const value: unknown = document.toJS() ?? {};
  const validate = compiledValidator();
  if (!validate(value)) {
    throw new ConfigError(name, problemsOf(validate.errors ?? [], document, lines));
  }
  return { file, sections: value as CorreioConfig['sections'] };
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0]!.trim();
}

/** One problem per offending key: the most telling ajv error for each instance path. */
function problemsOf(errors: readonly ErrorObject[], document: Document, lines: LineCounter): ConfigProblem[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const error of errors) {
    const path = error.keyword === 'additionalProperties' ? `${error.instancePath}/${String(error.params['additionalProperty'])}` : error.instancePath;
    byPath.set(path, [...(byPath.get(path) ?? []), error]);
  }
  const problems: ConfigProblem[] = [];
  for (const [path, group] of byPath) {
    const segments = path.split('/').slice(1).map(unescapePointer);
    const key = segments.join('.');
    const line = lineOf(document, lines, segments);
    problems.push({ key, ...(line !== undefined ? { line } : {}), message: explain(group, segments) });
  }
  return problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

function explain(group: readonly ErrorObject[], segments: readonly string[]): string {
  const unknown = group.find((error) => error.keyword === 'additionalProperties');
  if (unknown) {
    const known = Object.keys((unknown.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter((key) => key !== '$schema');
    const name = segments[segments.length - 1]!;
    const suggestion = closest(name, known);
    const where = segments.length === 1 ? 'a top-level section' : `a key of section "${segments.slice(0, -1).join('.')}"`;
    return (
      `"${name}" is not ${where}` +
      (suggestion ? `; did you mean "${suggestion}"?` : '.') +
      ` Known: ${known.join(', ')}.` +
      (segments.length > 1 ? ' Keys are the flags in camelCase (--max-queue → maxQueue).' : '')
    );
  }
  // Prefer the error at the level that says what the value should look like (a oneOf, say).
  const described = group.find((error) => typeof (error.parentSchema as Record<string, unknown> | undefined)?.['x-expected'] === 'string');
  const got = group[0]!.data;
  if (described) return `expected ${String((described.parentSchema as Record<string, unknown>)['x-expected'])}; got ${show(got)}.`;
  const first = group[0]!;
  if (first.keyword === 'type' && segments.length <= 1) return `must be a map of keys to values (got ${show(got)}).`;
  return `${first.message ?? 'invalid'}; got ${show(got)}.`;
}

function show(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The line of a key in the YAML source (the key itself when it exists, else its parent). */
function lineOf(document: Document, lines: LineCounter, segments: readonly string[]): number | undefined {
  let node: unknown = document.contents;
  let offset: number | undefined = rangeStart(node);
  for (const segment of segments) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === segment);
    if (!pair || !isPair(pair)) break;
    offset = rangeStart(pair.key) ?? offset;
    node = pair.value;
  }
  return offset === undefined ? undefined : lines.linePos(offset).line;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range?.[0];
}

/** The known key nearest to a misspelt one (edit distance ≤ 3), for "did you mean". */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const prefix = candidates.find((key) => lower.startsWith(key.toLowerCase()) || key.toLowerCase().startsWith(lower));
  if (prefix) return prefix;
  let best: { key: string; distance: number } | undefined;
  for (const key of candidates) {
    const distance = editDistance(name.toLowerCase(), key.toLowerCase());
    if (distance <= 3 && (!best || distance < best.distance)) best = { key, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
