import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { programCommand } from '@correio/testing';

/** The `correio` executable of this checkout, run as a user runs it. */
export const CORREIO_BIN = fileURLToPath(new URL('../../bin/correio.mjs', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CLI_MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

/**
 * How a test starts `correio`: `bin`, the executable as a user runs it (always from the sources in
 * a checkout), or `entry`, the CLI's entry point through programCommand — from its build when that
 * is up to date, which halves the CPU of every start, and that of each program `correio up` starts.
 * `entry` is for tests whose subject is not the executable itself.
 */
export type Launch = 'bin' | 'entry';

function commandLine(args: readonly string[], launch: Launch = 'bin'): [string, ...string[]] {
  return launch === 'bin' ? [process.execPath, CORREIO_BIN, ...args] : programCommand(CLI_MAIN, args);
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `correio <args>` to completion (bounded by `timeoutMs`, then SIGKILL). */
export function runCorreio(args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; launch?: Launch } = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const [command, ...rest] = commandLine(args, options.launch);
    const child = spawn(command, rest, { cwd: options.cwd ?? REPO_ROOT, env: { ...cleanEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running `correio` whose output is collected line by line, with waits on what it prints. */
export class CorreioProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}, launch: Launch = 'bin') {
    const [command, ...rest] = commandLine(args, launch);
    this.child = spawn(command, rest, { cwd: REPO_ROOT, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const line of parts) this.#line(line);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve({ code, signal })));
  }

  get output(): string {
    return this.lines.join('\n');
  }

  /**
   * Resolves with the first line matching `pattern` from line `from` on (default: any line, already
   * printed or to come); rejects after `timeoutMs`.
   */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find((line) => pattern.test(line));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter.resolve !== done);
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output so far:\n${this.output.slice(-4000)}`));
      }, timeoutMs);
      const done = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiters.push({ pattern, resolve: done });
    });
  }

  #line(line: string): void {
    this.lines.push(line);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.pattern.test(line)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  }
}

/** The environment without any CORREIO_* variable of the caller's shell, so tests see the defaults. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('CORREIO_') && name !== 'NO_COLOR' && name !== 'FORCE_COLOR') env[name] = value;
  return env;
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until none of `pids` is alive; resolves with those still alive at the deadline. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
