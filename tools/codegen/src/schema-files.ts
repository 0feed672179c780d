import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchemaSet } from './schemas.js';

/** The schema file names of protocol/schemas/v1, sorted. */
export function schemaFileNames(set: SchemaSet): string[] {
  return readdirSync(set.dir)
    .filter((file) => file.endsWith('.json'))
    .sort();
}

/** A copy of every schema file under `dir` (relative to the root), for bindings that carry the schemas with them. */
export function schemaCopies(set: SchemaSet, dir: string): Map<string, string> {
  return new Map(schemaFileNames(set).map((name) => [`${dir}/${name}`, readFileSync(join(set.dir, name), 'utf8')]));
}

/** The type a `$ref` names: a defs.json definition (named by `nameOfDef`) or another message file (its title). */
export function refTypeName(set: SchemaSet, ref: string, nameOfDef: (definition: string) => string): string {
  const definition = /^(?:defs\.json)?#\/\$defs\/(.+)$/.exec(ref)?.[1];
  if (definition !== undefined) {
    if (set.defs.$defs?.[definition] === undefined) throw new Error(`unknown definition ${ref}`);
    return nameOfDef(definition);
  }
  const message = set.messages.find((candidate) => candidate.file === ref);
  if (!message) throw new Error(`unsupported $ref ${ref}`);
  return message.title;
}

/** The value schema of a map (`patternProperties` with one pattern, or `additionalProperties` with a schema); undefined for any other object. */
export function mapValueSchema<S>(schema: Record<string, unknown>): S | undefined {
  const patterns = Object.values((schema['patternProperties'] as Record<string, S> | undefined) ?? {});
  if (patterns.length === 1) return patterns[0];
  const additional = schema['additionalProperties'];
  return typeof additional === 'object' ? (additional as S) : undefined;
}
