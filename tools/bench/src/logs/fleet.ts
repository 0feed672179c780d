// The benchmark's programs (program.ts) as child processes: spawned early (loading takes seconds,
// and is not measured), then prepared with the broker, told to go all at once, and their reports
// collected. Their stdout (the log lines) goes to /dev/null or to a pipe this process drains;
// their stderr is kept for error messages.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { killOnExit, stopGracefully, tsxArgs, workspaceRoot } from '../processes.js';
import type { ParentMessage, ProgramMessage, ProgramMode, ProgramResult } from './program.js';

export type StdoutSink = 'pipe' | 'null';

export interface FleetOptions {
  readonly mode: ProgramMode;
  readonly programs: number;
  readonly lines: number;
  /** Lines/s per program at most; 0 for as fast as the shipper drains. */
  readonly rate: number;
  /** Instance ids are `<prefix>-<n>`. */
  readonly instancePrefix: string;
  readonly stdout: StdoutSink;
}

const PROGRAM = join(import.meta.dirname, 'program.ts');
/** Lines waiting in a program's shipper (in flight included) above which it pauses logging: well under its backlog's 10,000, so none is dropped. */
export const PENDING_BOUND = 4_000;
const READY_TIMEOUT_MS = 120_000;
const EXIT_GRACE_MS = 5_000;
/** Characters of a program's stderr kept for an error message. */
const STDERR_KEPT = 4_000;

interface Program {
  readonly child: ChildProcess;
  readonly instance: string;
  /** Resolves with the next IPC message; rejects when the channel closes first or `timeoutMs` passes. */
  next(timeoutMs: number): Promise<ProgramMessage>;
}

function startProgram(options: FleetOptions, instance: string, devNull: number): Program {
  const args = ['--mode', options.mode, '--instance', instance, '--lines', String(options.lines), '--rate', String(options.rate), '--pending-bound', String(PENDING_BOUND)];
  const stdout = options.stdout === 'null' ? devNull : 'pipe';
  const child = killOnExit(spawn(process.execPath, tsxArgs(PROGRAM, args), { cwd: workspaceRoot, stdio: ['ignore', stdout, 'pipe', 'ipc'] }));
  child.stdout?.resume(); // drained and discarded, as a supervisor reading a program's output would
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)));
  const messages: ProgramMessage[] = [];
  const waiters: (() => void)[] = [];
  child.on('message', (message) => {
    messages.push(message as ProgramMessage);
    waiters.splice(0).forEach((wake) => wake());
  });
  // The channel closes after the last message it carried was received ('exit' may come before that message).
  child.once('disconnect', () => waiters.splice(0).forEach((wake) => wake()));
  const next = (timeoutMs: number) =>
    new Promise<ProgramMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${instance}: no report in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      const check = () => {
        const message = messages.shift();
        if (message !== undefined) {
          clearTimeout(timer);
          resolve(message);
        } else if (!child.connected) {
          clearTimeout(timer);
          reject(new Error(`${instance} closed its IPC channel (exit ${child.exitCode ?? child.signalCode ?? 'pending'}) before reporting\n${stderr}`));
        } else waiters.push(check);
      };
      check();
    });
  return { child, instance, next };
}

function expectType<T extends ProgramMessage['type']>(program: Program, message: ProgramMessage, type: T): Extract<ProgramMessage, { type: T }> {
  if (message.type === 'failed') throw new Error(`${program.instance} failed: ${message.error}`);
  if (message.type !== type) throw new Error(`${program.instance}: expected ${type}, got ${message.type}`);
  return message as Extract<ProgramMessage, { type: T }>;
}

export interface Fleet {
  /**
   * Prepares the programs (shipping through `broker`), tells them to go at once and resolves with
   * their reports; `around.go` is called right before `go`, `around.done` right after the last
   * report (to meter other processes over the same window). Once only.
   */
  run(broker: string | undefined, around?: { go(): void; done(): void }): Promise<ProgramResult[]>;
  /** SIGTERM to every program still running, SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/** Spawns `options.programs` programs; they load and wait for `run`. */
export function spawnFleet(options: FleetOptions): Fleet {
  const devNull = openSync('/dev/null', 'w');
  const programs = Array.from({ length: options.programs }, (_, n) => startProgram(options, `${options.instancePrefix}-${n + 1}`, devNull));
  closeSync(devNull); // the children hold their own descriptors
  const tell = (message: ParentMessage) => programs.forEach(({ child }) => child.send(message));
  const loaded = Promise.all(programs.map(async (program) => expectType(program, await program.next(READY_TIMEOUT_MS), 'loaded')));
  loaded.catch(() => undefined); // awaited by run; a failure before then is reported there
  return {
    async run(broker, around) {
      await loaded;
      tell({ type: 'prepare', ...(broker === undefined ? {} : { broker }) });
      await Promise.all(programs.map(async (program) => expectType(program, await program.next(READY_TIMEOUT_MS), 'ready')));
      around?.go();
      tell({ type: 'go' });
      const timeoutMs = READY_TIMEOUT_MS + (options.rate > 0 ? (options.lines / options.rate) * 1000 : 0);
      const results = await Promise.all(programs.map(async (program) => expectType(program, await program.next(timeoutMs), 'result')));
      around?.done();
      return results;
    },
    stop: () => stopGracefully(programs.map(({ child }) => ({ process: child })), EXIT_GRACE_MS),
  };
}
