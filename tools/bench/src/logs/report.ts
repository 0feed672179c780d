// The central-logs benchmark's tables (markdown): lines/s and program CPU per 1,000 lines with and
// without shipping, the log service's processes' CPU, and what each server holds of what was sent.
import { cpus } from 'node:os';
import { formatRate } from '../stats.js';
import type { ProgramResult } from './program.js';
import type { Verification } from './verify.js';

export interface Phase {
  readonly label: string;
  readonly results: readonly ProgramResult[];
}

export interface ReportInput {
  readonly configuration: string;
  readonly stdoutOnly: Phase;
  readonly shipping: Phase;
  /** Process name → CPU seconds it used while the shipping programs ran. */
  readonly serviceCpu: ReadonlyMap<string, number>;
  readonly verification: Verification;
}

interface PhaseFigures {
  readonly lines: number;
  readonly wallSeconds: number;
  readonly perSecond: number;
  readonly perProgram: readonly number[];
  /** Program CPU ms per 1,000 lines: all programs' CPU over all their lines. */
  readonly cpuPer1000: number;
  readonly dropped: number;
  readonly charsPerLine: number;
  /** Share of the programs' logging time spent paused, waiting for their shippers to drain. */
  readonly pausedShare: number;
}

function figures({ results }: Phase): PhaseFigures {
  const lines = results.reduce((sum, result) => sum + result.lines, 0);
  const wallSeconds = (Math.max(...results.map((result) => result.doneAt)) - Math.min(...results.map((result) => result.startedAt))) / 1000;
  return {
    lines,
    wallSeconds,
    perSecond: lines / wallSeconds,
    perProgram: results.map((result) => (result.lines * 1000) / (result.doneAt - result.startedAt)),
    cpuPer1000: (results.reduce((sum, result) => sum + result.cpuMs, 0) / lines) * 1000,
    dropped: results.reduce((sum, result) => sum + result.dropped, 0),
    charsPerLine: results.reduce((sum, result) => sum + result.chars, 0) / lines,
    pausedShare: results.reduce((sum, result) => sum + result.pausedMs, 0) / results.reduce((sum, result) => sum + (result.loggedAt - result.startedAt), 0),
  };
}

const range = (values: readonly number[]) => `${formatRate(Math.min(...values))}–${formatRate(Math.max(...values))}`;

export function printReport(input: ReportInput): void {
  const base = figures(input.stdoutOnly);
  const ship = figures(input.shipping);
  const shipped = input.shipping.results.reduce((sum, result) => sum + result.shipped, 0);
  const failures = input.shipping.results.reduce((sum, result) => sum + result.failures, 0);
  const cpu = cpus();
  console.log(`Machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 16)}Z`);
  console.log(`${input.configuration}; ${Math.round(ship.charsPerLine)} characters a line on stdout\n`);

  console.log('| Programs write to | Lines | Wall s (first line → last acknowledged) | Lines/s, all programs | Lines/s per program (min–max) | Program CPU ms / 1,000 lines | Dropped | Lost |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  console.log(`| ${input.stdoutOnly.label} | ${base.lines.toLocaleString('en-US')} | ${base.wallSeconds.toFixed(2)} | ${formatRate(base.perSecond)} | ${range(base.perProgram)} | ${base.cpuPer1000.toFixed(1)} | – | – |`);
  console.log(
    `| ${input.shipping.label} | ${ship.lines.toLocaleString('en-US')} | ${ship.wallSeconds.toFixed(2)} | ${formatRate(ship.perSecond)} | ${range(ship.perProgram)} | ${ship.cpuPer1000.toFixed(1)} | ${ship.dropped} | ${input.verification.lost} |`,
  );
  console.log('');
  const cost = ship.cpuPer1000 - base.cpuPer1000;
  console.log(
    `Cost of shipping, in the program: +${cost.toFixed(1)} CPU ms per 1,000 lines (${(ship.cpuPer1000 / base.cpuPer1000).toFixed(2)} × writing them to stdout only); ` +
      `${shipped.toLocaleString('en-US')} of ${ship.lines.toLocaleString('en-US')} lines acknowledged, ${failures} failed shipments (retried); ` +
      `the programs spent ${Math.round(ship.pausedShare * 100)} % of their logging time paused, waiting for their shippers to drain.`,
  );
  console.log('');

  const serviceTotal = [...input.serviceCpu.values()].reduce((sum, seconds) => sum + seconds, 0);
  console.log(`| Log service process (while the ${input.shipping.results.length} programs shipped) | CPU ms / 1,000 lines | Cores busy |`);
  console.log('|---|---:|---:|');
  for (const [name, seconds] of [...input.serviceCpu, ['all of them', serviceTotal] as const]) {
    console.log(`| ${name} | ${((seconds / ship.lines) * 1e6).toFixed(1)} | ${(seconds / ship.wallSeconds).toFixed(2)} |`);
  }
  console.log('');

  console.log('| Server (own copy, asked on srv.<id>) | Lines held (of sent) | Missing | Extra (duplicates, other lines) |');
  console.log('|---|---:|---:|---:|');
  for (const [service, counts] of input.verification.byService) {
    const sum = (of: (count: (typeof counts)[number]) => number) => counts.reduce((total, count) => total + of(count), 0);
    console.log(`| ${service} | ${sum((count) => count.held).toLocaleString('en-US')} (${ship.lines.toLocaleString('en-US')}) | ${sum((count) => count.missing)} | ${sum((count) => count.extra)} |`);
  }
}
