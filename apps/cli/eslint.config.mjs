import base from '../../eslint.config.mjs';

// `correio` is the one app that composes the others (it runs each program under a subcommand and
// reads their command-line definitions), so, unlike every other app, it may depend on layer:app.
const layers = ['layer:base', 'layer:protocol', 'layer:codec', 'layer:transport', 'layer:core', 'layer:service', 'layer:identity', 'layer:app'];

const boundaries = (allowed) => ({
  '@nx/enforce-module-boundaries': [
    'error',
    {
      enforceBuildableLibDependency: true,
      allowCircularSelfDependency: true,
      allow: [],
      depConstraints: [{ sourceTag: 'layer:app', onlyDependOnLibsWithTags: allowed }],
    },
  ],
});

export default [
  ...base,
  { files: ['**/src/**/*.ts'], rules: boundaries(layers) },
  // Its tests, like every project's, may also use the test support library.
  { files: ['**/tests/**/*.ts'], rules: boundaries([...layers, 'layer:testing']) },
];
