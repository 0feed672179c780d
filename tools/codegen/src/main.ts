#!/usr/bin/env node
// Regenerates every binding and the test vectors from protocol/: `npm run generate`. With --check,
// writes nothing and exits 1 when a generated file on disk differs from what the schemas produce,
// is missing, or is a vector file nothing generates any more (CI runs this).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateGo, GO_OUT_DIR } from './go.js';
import { GATEWAY_SCHEMAS_FILE, generateGatewaySchemas } from './openapi.js';
import { generatePython, PYTHON_OUT_DIR } from './python.js';
import { loadSchemas } from './schemas.js';
import { generateCatalogue, generateTypes } from './typescript.js';
import { generateValidatorIndex, generateValidators } from './validators.js';

export interface RunOptions {
  /** Compare only; write and delete nothing. */
  readonly check: boolean;
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
export async function run(root: string, options: RunOptions): Promise<RunResult> {
  const log = options.log ?? console.log;
  const warn = options.warn ?? ((line: string) => console.warn(`warning: ${line}`));
  const set = loadSchemas(root);
  const protocolOut = join(root, 'libs/protocol/src/generated');
  const bindings = new Map<string, string>([
    [join(protocolOut, 'types.ts'), await generateTypes(set)],
    [join(protocolOut, 'catalogue.ts'), generateCatalogue(set)],
    [join(protocolOut, 'validators.ts'), generateValidators(set)],
    [join(protocolOut, 'validator-index.ts'), generateValidatorIndex(set)],
    [join(root, GATEWAY_SCHEMAS_FILE), generateGatewaySchemas(set)],
  ]);
  const stale = sync(root, bindings, options.check);

  // The vector generator checks its bytes against @correio/codec, which loads the bindings above:
  // import it only once they are written.
  const { VECTORS_DIR, generateVectors, totalCounts } = await import('./vectors.js');
  const vectors = generateVectors(set);
  for (const warning of vectors.warnings) warn(warning);
  const vectorDir = join(root, VECTORS_DIR);
  const vectorFiles = new Map([...vectors.files].map(([path, content]) => [join(vectorDir, path), content]));
  stale.push(...sync(root, vectorFiles, options.check), ...orphans(root, vectorDir, vectorFiles, options.check));

  // The reference peers' bindings (peers/python, peers/go): every file in their generated folders.
  const peerDirs = [join(root, PYTHON_OUT_DIR), join(root, GO_OUT_DIR)];
  const peerFiles = new Map([...generatePython(set, root), ...generateGo(set, root)]);
  stale.push(...sync(root, peerFiles, options.check));
  for (const dir of peerDirs) stale.push(...orphans(root, dir, peerFiles, options.check, ['.py', '.go', '.json']));

  const total = bindings.size + vectorFiles.size + peerFiles.size;
  const counts = totalCounts(vectors.counts);
  const summary = `${vectorFiles.size} vector files: ${counts.valid} valid, ${counts.decodeOnly} decode-only, ${counts.invalid} invalid cases`;
  if (options.check && stale.length > 0) {
    (options.error ?? console.error)(`generated files are stale; run \`npm run generate\` and commit:\n  ${stale.join('\n  ')}`);
    return { exitCode: 1, stale };
  }
  log(options.check ? `generated files are up to date (${total} files; ${summary})` : `wrote ${stale.length} of ${total} generated files (${summary})`);
  return { exitCode: 0, stale };
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
function orphans(root: string, dir: string, outputs: ReadonlyMap<string, string>, check: boolean, extensions: readonly string[] = ['.json']): string[] {
  if (!existsSync(dir)) return [];
  const found = readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => extensions.some((extension) => path.endsWith(extension)))
    .map((path) => join(dir, path))
    .filter((file) => !outputs.has(file))
    .sort();
  if (!check) for (const file of found) rmSync(file);
  return found.map((file) => relative(root, file));
}

/** True when workspace packages resolve to their TypeScript sources, not to a possibly stale dist/. */
function sourceConditionActive(): boolean {
  return import.meta.resolve('@correio/codec').endsWith('/src/index.ts');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (sourceConditionActive()) {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    process.exitCode = (await run(root, { check: process.argv.includes('--check') })).exitCode;
  } else {
    // Run again with the export condition that maps @correio/* to src/, so the vectors are checked
    // against the codec's current source even when dist/ is missing or old.
    const child = spawnSync(process.execPath, [...process.execArgv, '--conditions=@correio/source', ...process.argv.slice(1)], { stdio: 'inherit' });
    process.exitCode = child.status ?? 1;
  }
}
