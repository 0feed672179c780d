// What the benchmark and its producer and worker processes say to each other: one JSON object a
// line, commands on the child's stdin, reports on its stdout behind a marker (so whatever else a
// library prints there, Celery's banner say, is kept for error messages and never parsed). The
// Python child (celery_child.py) speaks the same lines. Times are microseconds of CLOCK_MONOTONIC
// (Node's process.hrtime, Python's time.monotonic_ns), one clock for every process of the machine.
import { createInterface } from 'node:readline';

export const REPORT_MARKER = '@bench ';

export type Command =
  /** Producer: enqueue `jobs` no-op jobs from `producers` concurrent producers, each awaiting its enqueue before the next. */
  | { readonly type: 'produce'; readonly jobs: number; readonly producers: number }
  /** Worker: count from zero and report once `jobs` jobs have finished. */
  | { readonly type: 'expect'; readonly jobs: number }
  | { readonly type: 'stop' };

export type Report =
  /** Connected (a worker: consuming); `version` of the client library. */
  | { readonly type: 'ready'; readonly version?: string }
  | { readonly type: 'expecting' }
  | {
      readonly type: 'produced';
      readonly enqueued: number;
      /** The first enqueue call's start and the last one's acknowledgement. */
      readonly firstCallUs: number;
      readonly lastAckUs: number;
      /** The first few errors, when an enqueue failed. */
      readonly errors: readonly string[];
    }
  | {
      readonly type: 'completed';
      readonly succeeded: number;
      readonly failed: number;
      /** When the last job's result was stored (its settle acknowledged, its completion written). */
      readonly lastDoneUs: number;
      /** Per job run: its start in the worker − its enqueue call's start in the producer. */
      readonly latenciesUs: readonly number[];
    }
  | { readonly type: 'failed'; readonly error: string };

export type ReportOf<T extends Report['type']> = Extract<Report, { type: T }>;

/** Microseconds of the monotonic clock (CLOCK_MONOTONIC on Linux, as Python's time.monotonic_ns). */
export function nowMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** In a child: writes one report line. */
export function report(message: Report): void {
  process.stdout.write(`${REPORT_MARKER}${JSON.stringify(message)}\n`);
}

/** In a child: calls `handle` for each command, one at a time, until `stop` (or stdin closes). */
export async function serveCommands(handle: (command: Exclude<Command, { type: 'stop' }>) => Promise<void>): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  // Bounded by stdin: the benchmark sends `stop` or closes the pipe.
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const command = JSON.parse(line) as Command;
    if (command.type === 'stop') break;
    try {
      await handle(command);
    } catch (error) {
      report({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  }
  lines.close();
}

/** `jobs` split over `producers` as evenly as possible. */
export function shares(jobs: number, producers: number): number[] {
  return Array.from({ length: producers }, (_, p) => Math.floor(jobs / producers) + (p < jobs % producers ? 1 : 0));
}

/** The first `max` distinct error messages. */
export function firstErrors(errors: readonly unknown[], max = 3): string[] {
  return [...new Set(errors.map((error) => (error instanceof Error ? error.message : String(error))))].slice(0, max);
}

/**
 * One measured round of a producer process: `jobs` split over the first `producers` enqueue
 * functions, each awaiting its enqueue before the next; reports `produced` with the times.
 */
export async function produceRound(jobs: number, enqueuers: readonly ((payload: { t: number }) => Promise<unknown>)[]): Promise<void> {
  const errors: unknown[] = [];
  let enqueued = 0;
  const firstCallUs = nowMicros();
  await Promise.all(
    shares(jobs, enqueuers.length).map(async (share, n) => {
      for (let i = 0; i < share; i++) {
        try {
          await enqueuers[n]!({ t: nowMicros() });
          enqueued++;
        } catch (error) {
          errors.push(error);
        }
      }
    }),
  );
  report({ type: 'produced', enqueued, firstCallUs, lastAckUs: nowMicros(), errors: firstErrors(errors) });
}
