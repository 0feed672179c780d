#!/usr/bin/env node
// Regenerates every binding from protocol/: `npm run generate`. With --check, writes nothing and
// exits 1 when a generated file on disk differs from what the schemas produce (CI runs this).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchemas } from './schemas.js';
import { generateCatalogue, generateTypes } from './typescript.js';
import { generateValidatorIndex, generateValidators } from './validators.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const check = process.argv.includes('--check');

async function main(): Promise<number> {
  const set = loadSchemas(root);
  const protocolOut = join(root, 'libs/protocol/src/generated');
  const outputs = new Map<string, string>([
    [join(protocolOut, 'types.ts'), await generateTypes(set)],
    [join(protocolOut, 'catalogue.ts'), generateCatalogue(set)],
    [join(protocolOut, 'validators.ts'), generateValidators(set)],
    [join(protocolOut, 'validator-index.ts'), generateValidatorIndex(set)],
  ]);
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
  if (check && stale.length > 0) {
    console.error(`generated files are stale; run \`npm run generate\` and commit:\n  ${stale.join('\n  ')}`);
    return 1;
  }
  console.log(check ? `generated files are up to date (${outputs.size} files)` : `wrote ${stale.length} of ${outputs.size} generated files`);
  return 0;
}

process.exitCode = await main();
