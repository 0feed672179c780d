import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { programCommand } from './spawnProgram.js';

export interface ExampleRun {
  /** What the example printed on stdout. */
  readonly stdout: string;
  /** The example file as it is, for checking that the README shows it verbatim. */
  readonly source: string;
  /** The project's README.md. */
  readonly readme: string;
}

/**
 * Runs `<project>/examples/<file>` as a program (tsx, workspace sources) and returns its output
 * with the example's source and the project's README, so a test can check that the README shows
 * both as they are. Rejects like execFile (with `code` and `stderr`) when the example fails;
 * killed after `timeoutMs`. FORCE_COLOR=0: console.log prints plain text, as in the README, even
 * under a colour-forcing runner.
 */
export async function runExample(project: string, file: string, options: { readonly args?: readonly string[]; readonly timeoutMs?: number } = {}): Promise<ExampleRun> {
  const example = join(project, 'examples', file);
  const [command, ...args] = programCommand(example, options.args);
  const { stdout } = await promisify(execFile)(command, args, { cwd: project, env: { ...process.env, FORCE_COLOR: '0' }, timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL' });
  return { stdout, source: readFileSync(example, 'utf8'), readme: readFileSync(join(project, 'README.md'), 'utf8') };
}
