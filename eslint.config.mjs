import nx from '@nx/eslint-plugin';

// The dependency direction: protocol ← codec ← transport ← core (clocks, discovery, replication)
// ← service ← apps. `layer:base` libraries (logging, metrics) depend on no Correio library.
const layers = {
  'layer:base': [],
  'layer:protocol': [],
  'layer:codec': ['layer:base', 'layer:protocol'],
  'layer:transport': ['layer:base', 'layer:protocol', 'layer:codec'],
  'layer:core': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core'],
  'layer:service': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core'],
  'layer:app': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service'],
  'layer:tool': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service'],
};

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: ['**/dist', '**/out-tsc', '**/node_modules', '**/generated/**', '**/vite.config.*.timestamp*', '**/vitest.config.*.timestamp*', '.venv/**', 'peers/**'],
  },
  {
    files: ['**/src/**/*.ts', '**/tests/**/*.ts', '**/bench/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          // Tests import their own package by name, so they exercise the public API only.
          allowCircularSelfDependency: true,
          allow: [],
          depConstraints: Object.entries(layers).map(([sourceTag, allowed]) => ({
            sourceTag,
            onlyDependOnLibsWithTags: allowed,
          })),
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // noUncheckedIndexedAccess makes `!` the honest way to say an index is in range.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
];
