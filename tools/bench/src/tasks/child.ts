// A producer or worker process of the task-queue benchmark, seen from the benchmark: spawned with
// its stdin and stdout as the command and report channel (wire.ts), stopped by PID. Lines it
// prints that are not reports, and its stderr, are kept for error messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit, workspaceRoot } from '../processes.js';
import { REPORT_MARKER, type Command, type Report, type ReportOf } from './wire.js';

/** Characters of a child's other output kept for an error message. */
const OUTPUT_KEPT = 4_000;
const STOP_GRACE_MS = 5_000;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  send(command: Command): void;
  /** The next report, which must be of `type`; rejects on a `failed` report, an early exit or after `timeoutMs`. */
  next<T extends Report['type']>(type: T, timeoutMs: number): Promise<ReportOf<T>>;
  /** Sends `stop`, then SIGTERM and SIGKILL by PID if it has not exited after a grace period. */
  stop(): Promise<void>;
}

export function spawnChild(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Child {
  const child = killOnExit(spawn(command, args, { cwd: workspaceRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] }));
  let output = '';
  const keep = (text: string) => (output = (output + text).slice(-OUTPUT_KEPT));
  const reports: Report[] = [];
  let wake: (() => void) | undefined;
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (buffered + chunk.toString()).split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith(REPORT_MARKER)) reports.push(JSON.parse(line.slice(REPORT_MARKER.length)) as Report);
      else keep(`${line}\n`);
    }
    wake?.();
  });
  child.stderr!.on('data', (chunk: Buffer) => keep(chunk.toString()));
  child.stdin!.on('error', () => undefined); // a child that died is reported by next()
  let closed = false;
  child.once('close', () => {
    closed = true;
    wake?.();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const describe = () => `${name} (pid ${child.pid})`;

  return {
    name,
    process: child,
    send(message) {
      if (child.stdin!.writable) child.stdin!.write(`${JSON.stringify(message)}\n`);
    },
    next(type, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          wake = undefined;
          reject(new Error(`${describe()}: no ${type} report within ${timeoutMs} ms\n${output}`));
        }, timeoutMs);
        const check = () => {
          const message = reports.shift();
          if (message === undefined && !closed) return;
          clearTimeout(timer);
          wake = undefined;
          if (message === undefined) reject(new Error(`${describe()} exited (${child.exitCode ?? child.signalCode}) before its ${type} report\n${output}`));
          else if (message.type === type) resolve(message as ReportOf<typeof type>);
          else if (message.type === 'failed') reject(new Error(`${describe()} failed: ${message.error}\n${output}`));
          else reject(new Error(`${describe()}: expected a ${type} report, got ${message.type}`));
        };
        wake = check;
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      this.send({ type: 'stop' });
      child.stdin!.end();
      const term = setTimeout(() => child.kill('SIGTERM'), STOP_GRACE_MS);
      const kill = setTimeout(() => child.kill('SIGKILL'), 2 * STOP_GRACE_MS);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    },
  };
}
