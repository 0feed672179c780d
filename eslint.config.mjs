import nx from '@nx/eslint-plugin';

// The dependency direction: protocol ← codec ← transport ← core (clocks, discovery, replication)
// ← service ← apps. `layer:base` libraries (logging, metrics) depend on no Correio library;
// `layer:identity` (passwords, keys, tokens) only on base and protocol, and only apps and tools use it.
const layers = {
  'layer:base': [],
  'layer:protocol': [],
  'layer:identity': ['layer:base', 'layer:protocol'],
  'layer:codec': ['layer:base', 'layer:protocol'],
  'layer:transport': ['layer:base', 'layer:protocol', 'layer:codec'],
  'layer:core': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core'],
  'layer:service': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core'],
  'layer:app': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service', 'layer:identity'],
  'layer:tool': ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service', 'layer:identity', 'layer:testing'],
  // The browser app (apps/web): the protocol's types only; it talks to the gateway over HTTP and WebSocket.
  'layer:web': ['layer:protocol'],
  // Test support (libs/testing): depends on no Correio library; only tests and tools may use it.
  'layer:testing': [],
};

/** The module-boundaries rule for the given layers. */
const boundaries = (allowedBySource) => ({
  '@nx/enforce-module-boundaries': [
    'error',
    {
      enforceBuildableLibDependency: true,
      // Tests import their own package by name, so they exercise the public API only.
      allowCircularSelfDependency: true,
      allow: [],
      depConstraints: Object.entries(allowedBySource).map(([sourceTag, allowed]) => ({
        sourceTag,
        onlyDependOnLibsWithTags: allowed,
      })),
    },
  ],
});

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  ...nx.configs['flat/javascript'],
  {
    ignores: ['**/dist', '**/out-tsc', '**/node_modules', '**/generated/**', '**/vite.config.*.timestamp*', '**/vitest.config.*.timestamp*', '.venv/**', 'peers/**'],
  },
  {
    files: ['**/src/**/*.ts', '**/src/**/*.tsx', '**/bench/**/*.ts'],
    rules: boundaries(layers),
  },
  {
    // Tests of every layer may also use the test support library.
    files: ['**/tests/**/*.ts'],
    rules: boundaries(Object.fromEntries(Object.entries(layers).map(([tag, allowed]) => [tag, [...new Set([...allowed, 'layer:testing'])]]))),
  },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // noUncheckedIndexedAccess makes `!` the honest way to say an index is in range.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
];
