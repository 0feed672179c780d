import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';

/** Promise.withResolvers, which Node 20 lacks. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `check` every 20ms until it returns true; fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Broker heartbeat for tests: short, so a killed worker is noticed within a second. */
export const TEST_HEARTBEAT_MS = 250;

/** An in-process broker and proxy on free loopback ports. */
export class Infrastructure {
  private constructor(
    readonly broker: MajordomoBroker,
    readonly proxy: PubSubProxy,
  ) {}

  static async start(): Promise<Infrastructure> {
    const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], heartbeatIntervalMs: TEST_HEARTBEAT_MS, liveness: 3, startupGraceMs: 0 });
    await broker.start();
    const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
    await proxy.start();
    return new Infrastructure(broker, proxy);
  }

  get brokerEndpoint(): string {
    return this.broker.endpoints[0]!;
  }

  get proxyEndpoints(): { pub: string; sub: string } {
    return { pub: this.proxy.frontend, sub: this.proxy.backend };
  }

  async close(): Promise<void> {
    await this.broker.close();
    await this.proxy.close();
  }
}

const FIXTURE = join(import.meta.dirname, 'fixtures', 'fixture-service.ts');

/** A fixture service instance in a child process (tests/fixtures/fixture-service.ts). */
export class ChildService {
  readonly exited: Promise<number | null>;
  #stderr = '';

  private constructor(
    readonly instance: string,
    readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.stderr?.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
  }

  static async spawn(options: { name: string; instance: string; infra: Infrastructure; dir: string; announceMs?: number }): Promise<ChildService> {
    const config = {
      name: options.name,
      instance: options.instance,
      broker: options.infra.brokerEndpoint,
      proxy: options.infra.proxyEndpoints,
      dir: options.dir,
      heartbeatMs: TEST_HEARTBEAT_MS,
      announceMs: options.announceMs ?? 200,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', FIXTURE, JSON.stringify(config)], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, CORREIO_LOG_LEVEL: 'silent' },
    });
    const service = new ChildService(options.instance, child, options.dir);
    const ready = deferred();
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes(`READY ${options.instance}`)) ready.resolve();
    });
    const timer = setTimeout(() => ready.reject(new Error(`${options.instance} did not start within 30s: ${service.#stderr}`)), 30_000);
    void service.exited.then((code) => ready.reject(new Error(`${options.instance} exited with ${code} before it was ready: ${service.#stderr}`)));
    try {
      await ready.promise;
    } finally {
      clearTimeout(timer);
    }
    return service;
  }

  /** Every line the instance recorded. */
  records(): Record<string, unknown>[] {
    const file = join(this.dir, `${this.instance}.jsonl`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  kill(): Promise<number | null> {
    this.child.kill('SIGKILL');
    return this.exited;
  }

  /** Graceful stop (SIGTERM); SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A scratch directory removed by the returned function. */
export function scratchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'correio-service-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
