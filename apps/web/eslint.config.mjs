import base from '../../eslint.config.mjs';

export default [
  ...base,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      // Types only: the protocol's validators and Node code must not end up in the browser bundle.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: '@correio/protocol', allowTypeImports: true, message: 'apps/web may import only types from @correio/protocol.' }] },
      ],
    },
  },
];
