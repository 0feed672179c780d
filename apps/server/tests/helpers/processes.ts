// Real processes for the end-to-end tests: the broker, the proxy and chat servers, each spawned
// under tsx from its sources, read line by line, and always killed afterwards (killAll).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..', '..');
export const serverMain = join(workspaceRoot, 'apps', 'server', 'src', 'main.ts');
const brokerMain = join(workspaceRoot, 'apps', 'broker', 'src', 'main.ts');
const proxyMain = join(workspaceRoot, 'apps', 'proxy', 'src', 'main.ts');

/** Short heartbeats everywhere, so a killed server is noticed within a second. */
export const TEST_HEARTBEAT_MS = 250;

const running = new Set<Child>();

export class Child {
  readonly lines: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #stderr = '';
  #closed = false;
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
    process.stderr!.on('data', (chunk: Buffer) => {
      // Keep the tail only: a chatty process must not grow the test's memory without bound.
      this.#stderr = (this.#stderr + chunk.toString()).slice(-20_000);
    });
    // 'close' comes after the process exited and its output was read, so no line is missed.
    this.exited = new Promise((resolve) =>
      process.once('close', (code, signal) => {
        this.#closed = true;
        running.delete(this);
        for (const wake of this.#waiters) wake();
        resolve({ code, signal });
      }),
    );
  }

  get alive(): boolean {
    return !this.#closed;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first line matching `pattern`; rejects when the process exits first or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.find((line) => pattern.test(line));
        if (found !== undefined) {
          done();
          resolve(found);
          return true;
        }
        if (!this.alive) {
          done();
          reject(new Error(`${this.name} exited before printing ${pattern}; stderr: ${this.#stderr.slice(-2000)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms; stderr: ${this.#stderr.slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      const wake = () => void check();
      if (!check()) this.#waiters.add(wake);
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }
}

/** Runs a TypeScript file under tsx, resolving workspace packages to their sources. */
export function spawnTs(name: string, script: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', script, ...args], {
    cwd: workspaceRoot,
    env: { ...process.env, CORREIO_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Child(name, child);
}

/** Kills every child still running and waits for them to go (call in afterAll/afterEach). */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await Promise.all(children.map((child) => child.exited));
}

export interface Infrastructure {
  readonly broker: string;
  readonly proxy: { readonly pub: string; readonly sub: string };
}

/** apps/broker and apps/proxy as child processes on free loopback ports. */
export async function startInfrastructure(): Promise<Infrastructure> {
  const broker = spawnTs('broker', brokerMain, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(TEST_HEARTBEAT_MS), '--startup-grace', '0']);
  const proxy = spawnTs('proxy', proxyMain, ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*']);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /), proxy.waitForLine(/^proxy ready /)]);
  const field = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!;
  return { broker: brokerLine.split(' ')[2]!, proxy: { pub: field(proxyLine, 'publishers'), sub: field(proxyLine, 'subscribers') } };
}

export interface ServerProcess {
  readonly id: string;
  readonly child: Child;
  readonly readyLine: string;
  readonly http: string;
}

/** apps/server/src/main.ts as a child process; resolves at its readiness line. */
export async function startServerProcess(infra: Infrastructure, id: string, dataDir: string, extra: readonly string[] = []): Promise<ServerProcess> {
  const child = spawnTs(`server ${id}`, serverMain, [
    '--id', id,
    '--data-dir', dataDir,
    '--broker', infra.broker,
    '--proxy-pub', infra.proxy.pub,
    '--proxy-sub', infra.proxy.sub,
    '--heartbeat', String(TEST_HEARTBEAT_MS),
    '--http-port', '0',
    ...extra,
  ]);
  const readyLine = await child.waitForLine(/^server ready /, 60_000);
  return { id, child, readyLine, http: /http=(\S+)/.exec(readyLine)![1]! };
}

/** A scratch directory, removed by `remove`. */
export function scratchDir(prefix = 'correio-server-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
