// Child processes for the end-to-end tests: spawned under tsx, read line by line, and always
// killed afterwards (killAll in afterEach), even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..', '..');
export const refMain = join(workspaceRoot, 'apps', 'ref', 'src', 'main.ts');
export const nodeFixture = join(import.meta.dirname, '..', 'fixtures', 'server-node.ts');

const running = new Set<Child>();

export class Child {
  readonly lines: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    running.add(this);
    let buffered = '';
    process.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.#waiters) wake();
    });
    process.stderr!.on('data', (chunk: Buffer) => this.stderr.push(chunk.toString()));
    this.exited = new Promise((resolve) =>
      process.once('exit', (code, signal) => {
        running.delete(this);
        for (const wake of this.#waiters) wake();
        resolve({ code, signal });
      }),
    );
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The JSON events the fixture printed, optionally of one kind. */
  events<T = Record<string, unknown>>(event?: string): T[] {
    return this.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((parsed) => event === undefined || parsed['event'] === event) as T[];
  }

  /** Resolves with the first line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return this.waitFor(() => this.lines.find((line) => pattern.test(line)), `a line matching ${pattern}`, timeoutMs);
  }

  /** Polls `probe` on every output line (and every 50 ms) until it returns a value. */
  waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 30_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = probe();
        if (found !== undefined) {
          done();
          resolve(found);
        } else if (!this.alive) {
          done();
          reject(new Error(`${this.name} exited before ${what}; stderr: ${this.stderr.join('').slice(-2000)}`));
        }
      };
      const poll = setInterval(check, 50);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; stdout: ${this.lines.slice(-10).join('\n')}; stderr: ${this.stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.process.kill(signal);
  }
}

/** Runs a TypeScript file under tsx, resolving workspace packages to their sources. */
export function spawnTs(name: string, script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', script, ...args], {
    cwd: workspaceRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Child(name, child);
}

/** Kills every child still running and waits for them to go (call in afterEach). */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    child.kill('SIGCONT'); // a stopped process must run to die of SIGKILL promptly
    child.kill('SIGKILL');
  }
  await Promise.all(children.map((child) => child.exited));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
