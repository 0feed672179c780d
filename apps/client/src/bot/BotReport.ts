import type { LatencySummary } from './LatencyRecorder.js';
import type { StopReason } from './pace.js';

/** The requests of one kind the bot made. `sent = acked + failed`, always. */
export interface SentStats {
  readonly sent: number;
  /** Answered by the chat service. */
  readonly acked: number;
  /** Not acknowledged: an error reply, or no reply after every retry. Such a request may still have been applied. */
  readonly failed: number;
  /** Failures per error code (protocol codes, or ABORTED when the bot stopped before the reply). */
  readonly errors: Readonly<Record<string, number>>;
  /** Request to acknowledgement, retries included, for the acknowledged ones. */
  readonly latencyMs?: LatencySummary;
}

/** What the bot users received of one kind, live, while subscribed. */
export interface ReceivedStats {
  /** Everything received (other clients' traffic on the same channels included). */
  readonly total: number;
  /** Sent by this run's bots. */
  readonly fromRun: number;
  /**
   * Deliveries this run's acknowledged requests called for: each acknowledged publication once per
   * bot subscribed to its channel, each acknowledged direct message once. `fromRun` falls short of
   * it by what was lost (see `gaps`); it can exceed it by failed requests that were applied anyway.
   */
  readonly expected: number;
  /** Server time of the message (its `ts`) to receipt: meaningful when the clocks are synchronised. */
  readonly latencyMs?: LatencySummary;
}

export interface BotReport {
  /** Tags this run's user names: `<prefix>-<run>-<n>`. */
  readonly run: string;
  readonly users: number;
  readonly channels: readonly string[];
  readonly stoppedBy: StopReason;
  /** The traffic phase, ms (setup excluded). */
  readonly durationMs: number;
  readonly targetRate: number;
  /** Requests sent per second over the traffic phase. */
  readonly achievedRate: number;
  readonly setup: { readonly durationMs: number; readonly retries: number; readonly loggedIn: number };
  readonly sent: { readonly publish: SentStats; readonly direct: SentStats; readonly total: { readonly sent: number; readonly acked: number; readonly failed: number } };
  readonly received: { readonly publication: ReceivedStats; readonly direct: ReceivedStats };
  /** Sequence gaps the subscribers saw, and how many messages they say were lost. */
  readonly gaps: { readonly count: number; readonly missed: number };
  /** Things the numbers alone do not say (the proxy was unreachable, the run was cut short, …). */
  readonly warnings: readonly string[];
}

/** The report as a text table for the terminal. */
export function formatReport(report: BotReport): string {
  const { sent, received } = report;
  const lines = [
    `bot run ${report.run}: ${report.users} user(s), ${report.channels.length} channel(s); stopped by ${report.stoppedBy} after ${seconds(report.durationMs)} s (setup ${seconds(report.setup.durationMs)} s)`,
    `rate: target ${report.targetRate.toFixed(1)} msg/s, achieved ${report.achievedRate.toFixed(1)} msg/s`,
    '',
    row(['requests', 'sent', 'acked', 'failed', 'p50 ms', 'p99 ms', 'max ms']),
    row(['publish', sent.publish.sent, sent.publish.acked, sent.publish.failed, ...latency(sent.publish.latencyMs)]),
    row(['direct', sent.direct.sent, sent.direct.acked, sent.direct.failed, ...latency(sent.direct.latencyMs)]),
    row(['total', sent.total.sent, sent.total.acked, sent.total.failed, '', '', '']),
    '',
    row(['messages in', 'received', 'from run', 'expected', 'p50 ms', 'p99 ms', 'max ms']),
    row(['publication', received.publication.total, received.publication.fromRun, received.publication.expected, ...latency(received.publication.latencyMs)]),
    row(['direct', received.direct.total, received.direct.fromRun, received.direct.expected, ...latency(received.direct.latencyMs)]),
    '(received latency: the message’s server time to its receipt)',
    '',
    `gaps: ${report.gaps.count} (${report.gaps.missed} message(s) lost in transit)`,
  ];
  const errors = [...Object.entries(sent.publish.errors).map(([code, n]) => `publish ${code} ×${n}`), ...Object.entries(sent.direct.errors).map(([code, n]) => `direct ${code} ×${n}`)];
  if (errors.length > 0) lines.push(`failures: ${errors.join(', ')}`);
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  return `${lines.join('\n')}\n`;
}

function row(cells: readonly (string | number)[]): string {
  return cells.map((cell, index) => (index === 0 ? String(cell).padEnd(12) : String(cell).padStart(9))).join(' ').trimEnd();
}

function latency(summary: LatencySummary | undefined): string[] {
  if (!summary) return ['-', '-', '-'];
  return [summary.p50, summary.p99, summary.max].map((ms) => ms.toFixed(ms < 10 ? 2 : 1));
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
