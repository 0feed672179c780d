import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtEntry } from './builtEntry.js';
import { Child } from './Child.js';

/** The root of the Correio checkout (this file is libs/testing/src/spawnProgram.ts or its build in dist/). */
export const workspaceRoot = join(import.meta.dirname, '..', '..', '..');

/**
 * The command line that runs a TypeScript entry point: from its build when that is certainly up to
 * date with the sources (builtEntry.ts: a program starts with 0.6 s less CPU), otherwise from its
 * sources, with tsx resolving workspace packages through the `@correio/source` export condition.
 * Either way with exitWithParent, so the program does not outlive the test that started it. For
 * wrappers that must run it themselves (`ip netns exec …`, tmux).
 */
export function programCommand(entry: string, args: readonly string[] = []): [string, ...string[]] {
  const built = builtEntry(workspaceRoot, entry);
  const exitWithParent = built === undefined ? undefined : builtEntry(workspaceRoot, EXIT_WITH_PARENT_SOURCE);
  if (built !== undefined && exitWithParent !== undefined) return [process.execPath, '--import', pathToFileURL(exitWithParent).href, built, ...args];
  return [process.execPath, '--import', 'tsx', '--import', EXIT_WITH_PARENT, '--conditions=@correio/source', entry, ...args];
}

/** exitWithParent, from the sources or the build, whichever this file is. */
const EXIT_WITH_PARENT = new URL(`./exitWithParent${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;
const EXIT_WITH_PARENT_SOURCE = join(workspaceRoot, 'libs', 'testing', 'src', 'exitWithParent.ts');

export interface SpawnOptions {
  /** Added to this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** 'pipe' to write to the program (Child.write); no input by default. */
  readonly stdin?: 'ignore' | 'pipe';
  /** The working directory; the workspace root by default. */
  readonly cwd?: string;
}

/** The options of spawnProgram (the same as spawnCommand's). */
export type SpawnProgramOptions = SpawnOptions;

/** Runs any command (a Go binary, a Python module, a build) as a tracked child process. */
export function spawnCommand(name: string, command: string, args: readonly string[] = [], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, {
    cwd: options.cwd ?? workspaceRoot,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  return new Child(name, child);
}

/** Runs a TypeScript entry point (a program's main.ts, a test fixture) as a tracked child process. */
export function spawnProgram(name: string, entry: string, args: readonly string[] = [], options: SpawnProgramOptions = {}): Child {
  const [command, ...rest] = programCommand(entry, args);
  return spawnCommand(name, command, rest, options);
}
