import { join } from 'node:path';
import { spawnCommand, spawnProgram, workspaceRoot, type Child } from '@correio/testing';
import type { CallLatencies } from './callLatencies.js';
import type { GoPrograms } from './peerPrograms.js';
import { spawnPython } from './peerPrograms.js';

/** The languages with a service driver (SERVICE-DRIVER.md). */
export type ServiceLanguage = 'ts' | 'python' | 'go';

export interface ServiceDriverOptions {
  readonly name: string;
  readonly instance: string;
  readonly broker: string;
  readonly proxy: { readonly publishers: string; readonly subscribers: string };
  readonly concurrency?: number;
  /** Discovery's announce interval in ms: an instance silent for 3 of them is down. */
  readonly announceInterval?: number;
}

/** One line a driver printed: `op` says which (ready, up, down, event, result, error, …). */
export type DriverLine = { readonly op: string } & Record<string, unknown>;

export type CallOutcome =
  | { readonly op: 'result'; readonly result?: unknown }
  | { readonly op: 'error'; readonly code: string; readonly message: string; readonly retryable: boolean };

/**
 * A running service driver, in any language, spoken to through its JSON lines: commands on stdin,
 * what happened on stdout.
 */
export class ServiceDriverProcess {
  #nextId = 0;
  /** The JSON lines printed so far, each parsed once as it arrives (the waits below poll them often). */
  readonly #parsed: DriverLine[] = [];

  /** Wraps `child` right after it is spawned, before it can have printed anything. */
  constructor(
    readonly language: ServiceLanguage,
    readonly instance: string,
    readonly child: Child,
  ) {
    child.onLine((line) => {
      if (!line.startsWith('{')) return;
      try {
        this.#parsed.push(JSON.parse(line) as DriverLine);
      } catch {
        // Not a line of SERVICE-DRIVER.md: kept as `invalid`, and shown in any wait's failure with the output's tail.
        this.#parsed.push({ op: 'invalid', line });
      }
    });
  }

  /** Every JSON line printed so far, optionally of one op only. */
  lines(op?: string): DriverLine[] {
    return op === undefined ? [...this.#parsed] : this.#parsed.filter((line) => line.op === op);
  }

  /** The first line of `op` that `accepts` takes, once printed. */
  waitForLine(op: string, accepts: (line: DriverLine) => boolean = () => true, timeoutMs = 30_000): Promise<DriverLine> {
    return this.child.waitFor(() => this.lines(op).find(accepts), `an ${op} line`, timeoutMs);
  }

  ready(timeoutMs = 120_000): Promise<DriverLine> {
    return this.waitForLine('ready', () => true, timeoutMs);
  }

  /** Calls an action from this driver's service; resolves with its result or its error line. */
  async call(action: string, params?: unknown, options: { readonly timeoutMs?: number; readonly retries?: number } = {}): Promise<CallOutcome> {
    const id = this.#send({ op: 'call', action, ...(params === undefined ? {} : { params }), ...(options.timeoutMs === undefined ? {} : { timeout_ms: options.timeoutMs }), ...(options.retries === undefined ? {} : { retries: options.retries }) });
    const line = await this.child.waitFor(() => this.lines().find((printed) => printed.id === id && (printed.op === 'result' || printed.op === 'error')), `the outcome of call ${id} (${action})`, 60_000);
    return line as unknown as CallOutcome;
  }

  async emit(event: string, data: unknown): Promise<{ delivered: string[]; failed: string[] }> {
    const id = this.#send({ op: 'emit', event, data });
    const line = await this.waitForLine('emitted', (printed) => printed.id === id, 60_000);
    return { delivered: line['delivered'] as string[], failed: line['failed'] as string[] };
  }

  broadcast(event: string, data: unknown): void {
    this.#send({ op: 'broadcast', event, data });
  }

  async bench(action: string, params: unknown, count: number, inflight: number, timeoutMs = 600_000): Promise<CallLatencies> {
    const id = this.#send({ op: 'bench', action, params, count, inflight });
    const line = await this.waitForLine('bench', (printed) => printed.id === id, timeoutMs);
    return line as unknown as CallLatencies;
  }

  /** Graceful stop through stdin; resolves with the exit status once the process has closed. */
  async stop(): Promise<number | null> {
    this.#send({ op: 'stop' });
    return (await this.child.exited).code;
  }

  #send(command: Record<string, unknown>): number {
    const id = ++this.#nextId;
    this.child.write(JSON.stringify({ id, ...command }));
    return id;
  }
}

/** Starts a service driver of `language` (the Go one from programs built by buildGoPrograms). */
export function startServiceDriver(language: ServiceLanguage, options: ServiceDriverOptions, goPrograms?: GoPrograms): ServiceDriverProcess {
  const args = [
    '--name', options.name,
    '--instance', options.instance,
    '--broker', options.broker,
    '--proxy-pub', options.proxy.publishers,
    '--proxy-sub', options.proxy.subscribers,
    ...(options.concurrency === undefined ? [] : ['--concurrency', String(options.concurrency)]),
    ...(options.announceInterval === undefined ? [] : ['--announce-interval', String(options.announceInterval)]),
  ];
  const name = `${language} ${options.instance}`;
  let child: Child;
  if (language === 'ts') child = spawnProgram(name, join(workspaceRoot, 'tools', 'interop', 'src', 'serviceDriver.ts'), args, { stdin: 'pipe', env: { CORREIO_LOG_LEVEL: 'warn' } });
  else if (language === 'python') child = spawnPython(name, 'service_driver', args);
  else {
    if (!goPrograms) throw new TypeError('the Go service driver needs the programs of buildGoPrograms');
    child = spawnCommand(name, goPrograms.service, args, { stdin: 'pipe' });
  }
  return new ServiceDriverProcess(language, options.instance, child);
}
