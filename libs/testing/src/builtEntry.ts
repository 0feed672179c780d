// Where a test may run a program from its build instead of its sources. Starting a program through
// tsx costs about 0.6 s of CPU more than starting its build (every module goes through tsx's
// loader thread), and the suite starts hundreds of programs. The build is used only when it is
// certainly the sources' own: in every workspace package the program needs, each src/**/*.ts has
// its dist/**/*.js, written no earlier than the source was last changed. (Not tsc's build stamp:
// the typecheck target writes it with --emitDeclarationOnly, which leaves the .js files as they
// were.) Anything else — no build, an edit since, a fixture outside src/, CORREIO_TEST_FROM_SOURCE=1
// — runs from the sources.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const WORKSPACE_GROUPS = ['libs', 'apps', 'tools'];

/** The build of `entry` (a .ts file under a workspace package's src/) when it is up to date, or undefined. */
export function builtEntry(root: string, entry: string): string | undefined {
  if (process.env['CORREIO_TEST_FROM_SOURCE'] === '1') return undefined;
  const [group, name, folder, ...rest] = relative(root, entry).split(sep);
  if (group === undefined || !WORKSPACE_GROUPS.includes(group) || name === undefined || folder !== 'src' || rest.length === 0 || !entry.endsWith('.ts')) return undefined;
  const dir = join(root, group, name);
  if (!upToDate(root, dir)) return undefined;
  const built = join(dir, 'dist', ...rest).replace(/\.ts$/, '.js');
  return existsSync(built) ? built : undefined;
}

// Per test process: a test does not edit the sources of the programs it starts.
const verdicts = new Map<string, boolean>();

/** True when the package in `dir` and every workspace package it depends on (transitively) are built from their current sources. */
function upToDate(root: string, dir: string, seen = new Set<string>()): boolean {
  if (seen.has(dir)) return true;
  seen.add(dir);
  let verdict = verdicts.get(dir);
  if (verdict === undefined) {
    verdict = builtFromCurrentSources(dir);
    verdicts.set(dir, verdict);
  }
  return verdict && workspaceDependencies(root, dir).every((dependency) => upToDate(root, dependency, seen));
}

function builtFromCurrentSources(dir: string): boolean {
  try {
    return builtUnder(join(dir, 'src'), join(dir, 'dist'));
  } catch {
    return false; // a file without its build, or a folder that vanished meanwhile
  }
}

/** True when every .ts file under `source` has its .js under `built`, modified no earlier. */
function builtUnder(source: string, built: string): boolean {
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const path = join(source, entry.name);
    if (entry.isDirectory()) {
      if (!builtUnder(path, join(built, entry.name))) return false;
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      if (statSync(join(built, entry.name.replace(/\.ts$/, '.js'))).mtimeMs < statSync(path).mtimeMs) return false;
    }
  }
  return true;
}

const packagesByRoot = new Map<string, Map<string, string>>();

/** The directories of the workspace packages named in `dir`'s package.json dependencies. */
function workspaceDependencies(root: string, dir: string): string[] {
  let packagesByName = packagesByRoot.get(root);
  if (packagesByName === undefined) packagesByRoot.set(root, (packagesByName = workspacePackages(root)));
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  return Object.keys(manifest.dependencies ?? {}).flatMap((name) => {
    const found = packagesByName.get(name);
    return found === undefined ? [] : [found];
  });
}

function workspacePackages(root: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const group of WORKSPACE_GROUPS) {
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      try {
        byName.set((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name, dir);
      } catch {
        // not a package
      }
    }
  }
  return byName;
}
