import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { explainErrors } from './explainErrors.js';
import { configSchema, isConfigProgram } from './schema.js';

/** The settings of one program, as a config-file section or a service document holds them. */
export type Settings = Readonly<Record<string, unknown>>;

/** A field of a refused document and why (the VALIDATION reply's data.problems). */
export interface DocumentProblem {
  /** The setting's key (camelCase option name), or "" for the document as a whole. */
  readonly field: string;
  readonly message: string;
}

export type DocumentCheck = { readonly ok: true; readonly settings: Settings } | { readonly ok: false; readonly problems: readonly DocumentProblem[] };

/** The protocol's configDocument maxLength, in characters (code points). */
export const MAX_DOCUMENT_LENGTH = 4_000;

let validator: ValidateFunction | undefined;

/**
 * A validator of `schema` (the config schema, or a copy a caller extended) with every error
 * reported and `x-expected` known: what explainErrors needs to say what each bad value should be.
 */
export function compileConfigValidator(schema: Record<string, unknown> = configSchema()): ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
  // `x-expected` says, for people, what a value should look like; explainErrors quotes it.
  ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
  return ajv.compile(schema);
}

function compiled(): ValidateFunction {
  validator ??= compileConfigValidator();
  return validator;
}

/**
 * Checks a configuration document (JSON text of an object) for `program` against that program's
 * section of the config schema: the same check a config file's section gets. Never throws.
 */
export function checkDocument(program: string, text: string): DocumentCheck {
  if (!isConfigProgram(program)) return refuse('', `there is no program "${program}" to configure`);
  // Code points, as JSON Schema's maxLength counts them; the first test bounds the work of the second.
  const length = text.length > MAX_DOCUMENT_LENGTH * 2 ? text.length : [...text].length;
  if (length > MAX_DOCUMENT_LENGTH) return refuse('', `the document is ${length} characters; at most ${MAX_DOCUMENT_LENGTH}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return refuse('', `not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return refuse('', 'a document is a JSON object of settings, such as {"logLevel":"debug"}');
  const validate = compiled();
  // Checked as the program's section of a config file, so messages and rules are the file's.
  if (!validate({ [program]: value })) {
    return { ok: false, problems: explainErrors(validate.errors ?? []).map(({ segments, message }) => ({ field: segments.slice(1).join('.'), message })) };
  }
  return { ok: true, settings: value as Settings };
}

function refuse(field: string, message: string): DocumentCheck {
  return { ok: false, problems: [{ field, message }] };
}
