#!/usr/bin/env node
// `correio`: runs apps/cli from its TypeScript sources in a checkout (through tsx, with the
// @correio/source condition, in this same process: signals and exit codes are the program's own),
// or from dist/ where there are no sources (an installed or containerised build).
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/main.ts', import.meta.url);
const built = new URL('../dist/main.js', import.meta.url);

async function loadTsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return undefined;
  }
}

const tsx = existsSync(fileURLToPath(source)) ? await loadTsx() : undefined;
if (tsx) {
  tsx.register();
  // Workspace packages resolve to their sources (package.json "exports" → "@correio/source").
  const withSourceCondition =
    'export async function resolve(specifier, context, next) {' +
    "  const conditions = context.conditions.includes('@correio/source') ? context.conditions : [...context.conditions, '@correio/source'];" +
    '  return next(specifier, { ...context, conditions });' +
    '}';
  register(`data:text/javascript,${encodeURIComponent(withSourceCondition)}`);
  await import(source.href);
} else if (existsSync(fileURLToPath(built))) {
  await import(built.href);
} else {
  process.stderr.write('correio: neither apps/cli/src (with tsx installed) nor apps/cli/dist was found; run `npm ci` or `npx nx build @correio/cli`\n');
  process.exit(1);
}
