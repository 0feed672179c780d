import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { compileConfigValidator, configSchema, explainErrors } from '@correio/config';
import type { ErrorObject, ValidateFunction } from 'ajv';
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

let validator: ValidateFunction | undefined;

function compiledValidator(): ValidateFunction {
  validator ??= compileConfigValidator(withEveryOption(configSchema()));
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

/** One problem per offending key, with the line it is on. */
function problemsOf(errors: readonly ErrorObject[], document: Document, lines: LineCounter): ConfigProblem[] {
  return explainErrors(errors)
    .map(({ segments, message }) => {
      const line = lineOf(document, lines, segments);
      return { key: segments.join('.'), ...(line !== undefined ? { line } : {}), message };
    })
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
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
