// The client as a separate process, run from its TypeScript sources under tsx; every process is
// killed after each test (killAll), even when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..', '..');
export const clientMain = join(workspaceRoot, 'apps', 'client', 'src', 'main.ts');

/** The command line that runs the client (for tmux, which wants one string). */
export function clientCommandLine(args: readonly string[]): string[] {
  return [process.execPath, '--import', 'tsx', '--conditions=@correio/source', clientMain, ...args];
}

const running = new Set<ClientProcess>();

export class ClientProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly child: ChildProcess;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    const [command, ...rest] = clientCommandLine(args);
    this.child = spawn(command!, rest, { cwd: workspaceRoot, env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('close', (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
  }

  /** JSON lines written so far. */
  get events(): Record<string, unknown>[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  write(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  /** Resolves once `check` holds on the output; rejects on exit or after `timeoutMs`. */
  async until(check: (self: ClientProcess) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!check(this)) {
      if (exited) throw new Error(`the client exited before ${what}; stdout: ${this.stdout.slice(-1500)} stderr: ${this.stderr.slice(-1500)}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; stdout: ${this.stdout.slice(-1500)} stderr: ${this.stderr.slice(-1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
}
