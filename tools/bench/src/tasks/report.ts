// The task-queue benchmark's output (markdown): the machine, each system's configuration, the
// systems that could not be started, and one table of every round, grouped by producers.
import { cpus } from 'node:os';
import { formatMicros, formatRate } from '../stats.js';
import type { RoundResult } from './rounds.js';

export interface PeerOutcome {
  /** The system's name (with versions once started). */
  readonly name: string;
  readonly configuration?: string;
  readonly rounds: readonly RoundResult[];
  /** Why it could not be started, or why its rounds stopped, or what its verification found. */
  readonly problem?: string;
}

export interface ReportOptions {
  readonly jobs: number;
  readonly warmup: number;
  readonly concurrency: number;
}

export function formatReport(outcomes: readonly PeerOutcome[], options: ReportOptions): string[] {
  const cpu = cpus();
  const lines = [
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 16)}Z`,
    `${options.jobs.toLocaleString('en-US')} no-op jobs per row (after ${options.warmup.toLocaleString('en-US')} unmeasured warm-up jobs per system); every enqueue awaited before a producer's next; worker concurrency ${options.concurrency}`,
    '',
  ];
  for (const outcome of outcomes) {
    if (outcome.configuration !== undefined) lines.push(`- ${outcome.name}: ${outcome.configuration}`);
  }
  for (const outcome of outcomes) {
    if (outcome.problem !== undefined) lines.push(`- **${outcome.name}: ${outcome.rounds.length === 0 && outcome.configuration === undefined ? 'NOT RUN, could not be started' : 'PROBLEM'}: ${outcome.problem.split('\n')[0]}**`);
  }
  lines.push('');
  lines.push('| Producers | System | Jobs | Wall s (first enqueue → last result stored) | Jobs/s end to end | Enqueues acknowledged/s | Enqueue → start p50 | p99 | CPU ms/job: servers | CPU ms/job: producer + worker | Failed |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const rows = outcomes.flatMap((outcome, order) => outcome.rounds.map((round) => ({ outcome, order, round })));
  rows.sort((a, b) => a.round.producers - b.round.producers || a.order - b.order);
  for (const { outcome, round } of rows) {
    lines.push(
      `| ${round.producers} | ${outcome.name} | ${round.jobs.toLocaleString('en-US')} | ${round.wallSeconds.toFixed(2)} | ${formatRate(round.jobsPerSecond)} | ${formatRate(round.enqueuedPerSecond)} | ${formatMicros(round.p50Us)} | ${formatMicros(round.p99Us)} | ${round.serverCpuMsPerJob.toFixed(2)} | ${round.clientCpuMsPerJob.toFixed(2)} | ${round.failed} |`,
    );
  }
  for (const outcome of outcomes) {
    if (outcome.rounds.length === 0) lines.push(`| – | ${outcome.name} | – | – | not run | – | – | – | – | – | – |`);
  }
  return lines;
}
