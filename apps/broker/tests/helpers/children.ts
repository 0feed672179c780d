// Child processes for the end-to-end tests: spawned over real TCP, read line by line, and always
// killed afterwards (killAll in afterEach), even when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const workspaceRoot = join(import.meta.dirname, '..', '..', '..', '..');
export const fixtures = join(import.meta.dirname, '..', 'fixtures');
export const brokerMain = join(workspaceRoot, 'apps', 'broker', 'src', 'main.ts');
export const python = join(workspaceRoot, '.venv', 'bin', 'python');

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
    // 'close' comes after the process exited *and* its output was read, so no line is missed.
    this.exited = new Promise((resolve) =>
      process.once('close', (code, signal) => {
        this.#closed = true;
        running.delete(this);
        for (const wake of this.#waiters) wake();
        resolve({ code, signal });
      }),
    );
  }

  #closed = false;

  /** False once the process has exited and its output has been read. */
  get alive(): boolean {
    return !this.#closed;
  }

  /** JSON events printed by the fixture programs. */
  events(event?: string): Record<string, unknown>[] {
    return this.lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((parsed) => event === undefined || parsed['event'] === event);
  }

  /** Resolves with the first line (from the start) matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.lines.slice(from).find((line) => pattern.test(line));
        if (found !== undefined) {
          done();
          resolve(found);
          return true;
        }
        if (!this.alive) {
          done();
          reject(new Error(`${this.name} exited before printing ${pattern}; stderr: ${this.stderr.join('').slice(-2000)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms; stdout: ${this.lines.slice(-20).join('\n')}; stderr: ${this.stderr.join('').slice(-2000)}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      const wake = () => void check();
      if (!check()) this.#waiters.add(wake);
    });
  }

  /** Waits for the `n`th JSON event of a kind (1-based). */
  async waitForEvent(event: string, n = 1, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events(event);
      if (found.length >= n) return found[n - 1]!;
      if (!this.alive) throw new Error(`${this.name} exited before event ${event} #${n}; stderr: ${this.stderr.join('').slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no event ${event} #${n} within ${timeoutMs} ms; stdout: ${this.lines.slice(-10).join('\n')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.#waiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
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

export function spawnPython(name: string, script: string, args: readonly string[] = []): Child {
  const child = spawn(python, ['-u', script, ...args], { cwd: workspaceRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Child(name, child);
}

/** True when the project's Python environment has pyzmq and msgpack (tools/scripts/setup-peers.sh). */
export function pythonPeersAvailable(): boolean {
  return existsSync(python);
}

/** Kills every child still running and waits for them to go (call in afterEach). */
export async function killAll(): Promise<void> {
  const children = [...running];
  for (const child of children) {
    // A stopped process must be continued to die of SIGKILL promptly on some kernels; harmless otherwise.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  }
  await Promise.all(children.map((child) => child.exited));
}

/** A TCP port that was free a moment ago (for a broker that must come back on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface BrokerProcess {
  readonly child: Child;
  readonly endpoint: string;
  readonly seedFrontend?: string;
  readonly seedBackend?: string;
  readonly http?: string;
}

/** Starts apps/broker/src/main.ts and waits for its readiness line. */
export async function startBrokerProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<BrokerProcess> {
  const child = spawnTs('broker', brokerMain, args, env);
  const line = await child.waitForLine(/^broker ready /);
  const [, , endpoint, ...rest] = line.split(' ');
  const fields = Object.fromEntries(rest.map((part) => part.split('=', 2) as [string, string]));
  return {
    child,
    endpoint: endpoint!,
    ...(fields['seed-frontend'] ? { seedFrontend: fields['seed-frontend'] } : {}),
    ...(fields['seed-backend'] ? { seedBackend: fields['seed-backend'] } : {}),
    ...(fields['http'] ? { http: fields['http'] } : {}),
  };
}

export function startWorker(endpoint: string, service: string, extra: readonly string[] = []): Child {
  return spawnTs(`worker:${service}`, join(fixtures, 'mdp-worker.ts'), ['--endpoint', endpoint, '--service', service, ...extra]);
}

export function startClient(endpoint: string, service: string, extra: readonly string[] = []): Child {
  return spawnTs(`client:${service}`, join(fixtures, 'mdp-client.ts'), ['--endpoint', endpoint, '--service', service, ...extra]);
}

/** Reads one metric value (the sum over series matching `labels`) from a /metrics endpoint. */
export async function metric(http: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    if (Object.entries(labels).every(([key, value]) => series.includes(`${key}="${value}"`))) total += Number(match[3]);
  }
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits until the broker counts `n` live workers of `service` (a worker's "ready" line only means
 * READY was queued on its socket, not that the broker has processed it). Needs the broker's --http-port.
 */
export async function awaitWorkers(broker: BrokerProcess, service: string, n: number, timeoutMs = 15_000): Promise<void> {
  if (broker.http === undefined) throw new Error('awaitWorkers needs a broker started with --http-port');
  const deadline = Date.now() + timeoutMs;
  while ((await metric(broker.http, 'correio_broker_workers', { service })) < n) {
    if (Date.now() > deadline) throw new Error(`the broker did not see ${n} worker(s) of ${service} within ${timeoutMs} ms`);
    await sleep(25);
  }
}
