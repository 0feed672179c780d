// Opt-in timestamps of a write's hops, to see where its time goes (docs/benchmarks.md, "Where a
// single write's time goes"). Off unless CORREIO_TRACE_WRITES names a directory; then every process
// appends lines "<epoch ms> <hop> <key> [detail]" to <dir>/trace-<pid>.log. Call sites write
// `traceWrite?.(hop, key)`: when off, one check of an undefined constant and nothing else.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Records that the write `key` (its request id) passed `hop` now, or at `at` (a performance.now() reading). */
export type TraceWrite = (hop: string, key: string, detail?: string, at?: number) => void;

/** Lines held before they are appended to the file; also appended every second and at exit. */
const FLUSH_LINES = 512;

/** A tracer appending to `<dir>/trace-<pid>.log`; times are epoch ms from performance.timeOrigin, shared by the processes of one machine. */
export function createWriteTrace(dir: string): TraceWrite {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `trace-${process.pid}.log`);
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    try {
      appendFileSync(file, text);
    } catch {
      // A diagnostic aid: a full disk loses trace lines, never the process.
    }
  };
  setInterval(flush, 1_000).unref();
  process.on('exit', flush);
  return (hop, key, detail, at = performance.now()) => {
    lines.push(`${(performance.timeOrigin + at).toFixed(3)} ${hop} ${key}${detail === undefined ? '' : ` ${detail}`}\n`);
    if (lines.length >= FLUSH_LINES) flush();
  };
}

const traceDir = process.env.CORREIO_TRACE_WRITES;

/** This process's tracer when CORREIO_TRACE_WRITES is set, else undefined. */
export const traceWrite: TraceWrite | undefined = traceDir ? createWriteTrace(traceDir) : undefined;
