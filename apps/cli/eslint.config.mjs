import base from '../../eslint.config.mjs';

// `correio` is the one app that composes the others (it runs each program under a subcommand and
// reads their command-line definitions), so, unlike every other app, it may depend on layer:app.
const layers = ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service', 'layer:identity', 'layer:app'];

export default [
  ...base,
  {
    files: ['**/src/**/*.ts', '**/tests/**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allowCircularSelfDependency: true,
          allow: [],
          depConstraints: [{ sourceTag: 'layer:app', onlyDependOnLibsWithTags: layers }],
        },
      ],
    },
  },
];
