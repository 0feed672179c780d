import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..');

export interface Library {
  readonly name: string;
  readonly version: string;
  /** Its folder under libs/. */
  readonly folder: string;
}

/** The workspaces under libs/ that are published: those not marked private. */
export function publicLibraries(): Library[] {
  const libs = join(workspaceRoot, 'libs');
  return readdirSync(libs, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ folder: entry.name, manifest: JSON.parse(readFileSync(join(libs, entry.name, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean } }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ folder, manifest }) => ({ name: manifest.name, version: manifest.version, folder }));
}
