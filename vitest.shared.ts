import { basename, join } from 'node:path';
import { defineConfig } from 'vitest/config';

/** Workspace packages resolve to their TypeScript sources through this export condition. */
const conditions = ['@correio/source', 'import', 'module', 'node', 'default'];
const workspaceRoot = import.meta.dirname;

/** One vitest configuration for every project: node environment, tests under tests/, a JSON report for the CI summary. */
export function projectConfig(options: { testTimeout?: number; fileParallelism?: boolean } = {}) {
  const project = basename(process.cwd());
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@correio/source'] } },
    test: {
      environment: 'node',
      include: ['tests/**/*.test.ts'],
      testTimeout: options.testTimeout ?? 20_000,
      hookTimeout: 30_000,
      fileParallelism: options.fileParallelism ?? true,
      pool: 'forks',
      reporters: ['default', ['json', { outputFile: join(workspaceRoot, 'tmp', 'test-results', `${project}.json`) }]],
    },
  });
}
