import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ValidationError } from '@correio/codec';

/** A JSON Schema (draft 2020-12) for an action's params or an event's data. */
export type JsonSchema = Record<string, unknown> | boolean;

/** Checks one value; throws a ValidationError whose message and data.path name the offending field. */
export type ValueCheck = (value: unknown) => void;

// One compiler for every schema: strict about the schema itself (a misspelt keyword fails at
// definition time), lenient about types it cannot infer; formats need ajv-formats, so they are ignored.
const ajv = new Ajv2020({ allErrors: false, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, validateFormats: false });

export interface CheckTarget {
  /** Whose value it is, for messages: `greeter.hello`. */
  readonly owner: string;
  /** What the value is called, for messages: `params`. */
  readonly name: string;
  /** Where the value sits in the envelope, so data.path is a JSON Pointer from the envelope root like the codec's: `/body/params`. */
  readonly pointer: string;
}

/** Compiles `schema` once into a check that names the offending field in its errors (`params.name`, `/body/params/name`). */
export function compileCheck(schema: JsonSchema, target: CheckTarget): ValueCheck {
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    throw new TypeError(`the ${target.name} schema of ${target.owner} is invalid: ${(error as Error).message}`, { cause: error });
  }
  return (value) => {
    if (validate(value)) return;
    const first = validate.errors?.[0];
    const field = first ? fieldOf(first) : [];
    const path = target.pointer + field.map((segment) => `/${String(segment).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
    throw new ValidationError(`${target.owner}: ${readablePath(target.name, field)} ${describe(first)}`, {
      data: { path, keyword: first?.keyword ?? 'unknown' },
    });
  };
}

/** The path of the offending field; for a missing or unexpected property, the property itself. */
function fieldOf(error: ErrorObject): (string | number)[] {
  const segments = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((segment) => (/^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment));
  const params = error.params as { missingProperty?: string; additionalProperty?: string; propertyName?: string };
  const property = params.missingProperty ?? params.additionalProperty ?? params.propertyName;
  if (property !== undefined) segments.push(property);
  return segments;
}

/** `params.items[2].name`: a path a person reads at a glance. */
function readablePath(root: string, field: readonly (string | number)[]): string {
  return field.reduce<string>(
    (path, segment) => (typeof segment === 'number' ? `${path}[${segment}]` : /^[A-Za-z_$][\w$]*$/.test(segment) ? `${path}.${segment}` : `${path}[${JSON.stringify(segment)}]`),
    root,
  );
}

function describe(error: ErrorObject | undefined): string {
  if (!error) return 'is invalid';
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'additionalProperties':
      return 'is not allowed';
    default:
      return error.message ?? 'is invalid';
  }
}
