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
