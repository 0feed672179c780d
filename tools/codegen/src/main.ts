#!/usr/bin/env node
// Regenerates every binding and the test vectors from protocol/: `npm run generate`. With --check,
// writes nothing and exits 1 when a generated file on disk differs from what the schemas produce,
// is missing, or is a file in a generator's own folder that nothing generates any more (CI runs
// this). `--only <name,…>` runs only those generators (generators.ts lists them; README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Generator } from './generator.js';
import { GENERATORS } from './generators.js';
import { loadSchemas } from './schemas.js';

export interface RunOptions {
  /** Compare only; write and delete nothing. */
  readonly check: boolean;
  /** Run only the generators with these names (default: every one of generators.ts). */
  readonly only?: readonly string[];
  readonly log?: (line: string) => void;
  readonly warn?: (line: string) => void;
  readonly error?: (line: string) => void;
}

export interface RunResult {
  /** 0 when everything is (now) up to date, 1 when --check found stale files. */
  readonly exitCode: number;
  /** Paths relative to root that differed, were missing, or were orphaned. */
  readonly stale: readonly string[];
}

/** Generates everything under `root` (a checkout, or a copy of one holding protocol/schemas). */
export async function run(root: string, options: RunOptions, generators: readonly Generator[] = GENERATORS): Promise<RunResult> {
  const log = options.log ?? console.log;
  const warn = options.warn ?? ((line: string) => console.warn(`warning: ${line}`));
  const set = loadSchemas(root);
  const stale: string[] = [];
  const summaries: string[] = [];
  let total = 0;
  // In order, each generator's files written before the next one runs (generator.ts).
  for (const generator of select(generators, options.only)) {
    const output = await generator.generate({ set, root });
    for (const warning of output.warnings ?? []) warn(warning);
    if (output.summary) summaries.push(output.summary);
    const files = new Map([...output.files].map(([path, content]) => [join(root, path), content]));
    total += files.size;
    stale.push(...sync(root, files, options.check));
    for (const { dir, extensions } of generator.owns ?? []) stale.push(...orphans(root, join(root, dir), files, options.check, extensions));
  }

  const summary = [`${total} files`, ...summaries].join('; ');
  if (options.check && stale.length > 0) {
    (options.error ?? console.error)(`generated files are stale; run \`npm run generate\` and commit:\n  ${stale.join('\n  ')}`);
    return { exitCode: 1, stale };
  }
  log(options.check ? `generated files are up to date (${summary})` : `wrote ${stale.length} of ${total} generated files${summaries.length > 0 ? ` (${summaries.join('; ')})` : ''}`);
  return { exitCode: 0, stale };
}

/** The generators named in `only`, in their list order; an unknown name is an error. */
function select(generators: readonly Generator[], only: readonly string[] | undefined): readonly Generator[] {
  if (only === undefined) return generators;
  const unknown = only.filter((name) => !generators.some((generator) => generator.name === name));
  if (unknown.length > 0) throw new Error(`unknown generator ${unknown.join(', ')}; known: ${generators.map((generator) => generator.name).join(', ')}`);
  return generators.filter((generator) => only.includes(generator.name));
}

/** Writes each output whose content differs (unless checking); returns the differing paths. */
function sync(root: string, outputs: ReadonlyMap<string, string>, check: boolean): string[] {
  const stale: string[] = [];
  for (const [file, content] of outputs) {
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (current === content) continue;
    stale.push(relative(root, file));
    if (!check) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }
  return stale;
}

/** Files under `dir` with one of `extensions` that nothing generates (a removed message type): deleted unless checking. */
function orphans(root: string, dir: string, outputs: ReadonlyMap<string, string>, check: boolean, extensions: readonly string[]): string[] {
  if (!existsSync(dir)) return [];
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => extensions.some((extension) => path.endsWith(extension)))
    .map((path) => join(dir, path))
    .filter((file) => !outputs.has(file))
    .sort();
  if (!check) for (const file of found) rmSync(file);
  return found.map((file) => relative(root, file));
}

/** `--only rust,go` or `--only rust`: the generators to run. */
function onlyArgument(argv: readonly string[]): string[] | undefined {
  const index = argv.indexOf('--only');
  if (index < 0) return undefined;
  return (argv[index + 1] ?? '').split(',').filter((name) => name.length > 0);
}

/** True when workspace packages resolve to their TypeScript sources, not to a possibly stale dist/. */
function sourceConditionActive(): boolean {
  return import.meta.resolve('@correio/codec').endsWith('/src/index.ts');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (sourceConditionActive()) {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    process.exitCode = (await run(root, { check: process.argv.includes('--check'), only: onlyArgument(process.argv) })).exitCode;
  } else {
    // Run again with the export condition that maps @correio/* to src/, so the vectors are checked
    // against the codec's current source even when dist/ is missing or old.
    const child = spawnSync(process.execPath, [...process.execArgv, '--conditions=@correio/source', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exitCode = child.status ?? 1;
  }
}
