// The client as a separate process, run from its TypeScript sources under tsx (@correio/testing
// tracks it: killAll after each test, even when the test fails).
import { join } from 'node:path';
import { spawnProgram, workspaceRoot, type Child } from '@correio/testing';

export const clientMain = join(workspaceRoot, 'apps', 'client', 'src', 'main.ts');

/** correio-client with `args`, its stdin open for commands, colours off. */
export function startClientProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  return spawnProgram('client', clientMain, args, { stdin: 'pipe', env: { NO_COLOR: '1', ...env } });
}
