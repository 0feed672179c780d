#!/usr/bin/env node
// Creates the boilerplate of a workspace package: node tools/scripts/new-package.mjs libs/codec layer:codec "description"
import { copyFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';

const [dir, tag, description = ''] = process.argv.slice(2);
if (!dir || !tag) {
  console.error('usage: new-package.mjs <libs/name|apps/name|tools/name> <layer:tag> [description]');
  process.exit(2);
}
if (existsSync(join(dir, 'package.json'))) {
  console.error(`${dir}/package.json already exists; nothing written`);
  process.exit(1);
}
const name = basename(dir);
const isLib = dir.startsWith('libs/');
const json = (value) => JSON.stringify(value, null, 2) + '\n';
const write = (file, text) => writeFileSync(join(dir, file), text);

mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'tests'), { recursive: true });
write('package.json', json({
  name: `@correio/${name}`,
  version: '0.1.0',
  description,
  license: 'MIT',
  ...(isLib ? {} : { private: true }),
  type: 'module',
  main: './dist/index.js',
  types: './dist/index.d.ts',
  exports: {
    '.': { '@correio/source': './src/index.ts', types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
    './package.json': './package.json',
  },
  // A library is public (docs/releasing.md): built on prepack, published with its LICENSE.
  files: isLib ? ['dist', '!dist/**/*.tsbuildinfo', '!dist/**/*.d.ts.map'] : ['dist', '!**/*.tsbuildinfo'],
  ...(isLib
    ? {
        engines: { node: '>=20.19' },
        publishConfig: { access: 'public' },
        scripts: { prepack: 'tsc --build tsconfig.lib.json && node ../../tools/scripts/prune-dist.mjs' },
      }
    : {}),
  dependencies: {},
  nx: { tags: [tag] },
}));
write('tsconfig.json', json({ extends: '../../tsconfig.base.json', files: [], include: [], references: [{ path: './tsconfig.lib.json' }, { path: './tsconfig.spec.json' }] }));
write('tsconfig.lib.json', json({
  extends: '../../tsconfig.base.json',
  compilerOptions: { rootDir: 'src', outDir: 'dist', tsBuildInfoFile: 'dist/tsconfig.lib.tsbuildinfo', ...(isLib ? { inlineSources: true } : {}) },
  include: ['src/**/*.ts'],
  references: [],
}));
write('tsconfig.spec.json', json({
  extends: '../../tsconfig.base.json',
  compilerOptions: { outDir: './out-tsc/vitest', noUnusedLocals: false },
  include: ['tests/**/*.ts'],
  references: [{ path: './tsconfig.lib.json' }],
}));
write('vitest.config.ts', "import { projectConfig } from '../../vitest.shared.ts';\n\nexport default projectConfig();\n");
write('eslint.config.mjs', "import base from '../../eslint.config.mjs';\n\nexport default [...base];\n");
write('src/index.ts', '');
if (isLib) copyFileSync('LICENSE', join(dir, 'LICENSE'));
console.log(`created ${dir}${isLib ? ': a public library; add it to the fixed group in .changeset/config.json, or mark it private' : ''}`);
