// The end-to-end benchmark's results and their Markdown tables.
import { cpus, totalmem } from 'node:os';
import { formatMicros, formatRate } from '../stats.js';
import type { PubSubBaseline, RequestBaseline } from './baselines.js';

export interface LoadResult {
  clients: number;
  acks: number;
  perSecond: number;
  total: number;
  retries: number;
  failed: number;
  errors: Record<string, number>;
  firstErrors: Record<string, string>;
  /** CPU seconds per second of its own run. */
  cpuShare: number;
  rssBytes: number;
}

export interface DeliveryResult {
  delivered: number;
  duplicates: number;
  gaps: number;
  p50us: number;
  p99us: number;
  /** CPU seconds per second of its own run. */
  cpuShare: number;
  rssBytes: number;
}

export interface Run {
  ackPeers: number;
  clients: number;
  perSecond: number;
  p50us: number;
  p99us: number;
  retries: number;
  failed: number;
  errors: Record<string, number>;
  acked: number;
  missing: number;
  delivery: DeliveryResult;
  lagP50: number;
  lagMax: number;
  convergedMs: number | undefined;
  /** CPU time of all the benchmark's processes (servers, broker, proxy, ref, load, subscriber) per acknowledged publication, ms. */
  cpuMsPerAck: number;
  /** Context switches of the servers', broker's, proxy's and ref's threads per acknowledged publication. */
  switchesPerAck: number;
  /** Process name → CPU share of one core during the run, and RSS at its end. */
  processes: Map<string, { cpu: number; rssBytes: number }>;
}

export interface Report {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly dataParent: string;
  readonly serverFlags: readonly string[];
  readonly runs: readonly Run[];
  /** Per ack-peers topology: each process's CPU share at rest. */
  readonly atRest: ReadonlyMap<number, ReadonlyMap<string, number>>;
  readonly requestRows: readonly RequestBaseline[];
  readonly pubSubRows: readonly PubSubBaseline[];
}

/** Prints the benchmark's tables as Markdown on stdout. */
export function printReport({ durationMs, warmupMs, dataParent, serverFlags, runs, atRest, requestRows, pubSubRows }: Report): void {
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}`;
  const ms = (us: number) => formatMicros(us);
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ` +
    `${durationMs} ms per run after ${warmupMs} ms warm-up; data on ${dataParent}${serverFlags.length ? `; server flags ${serverFlags.join(' ')}` : ''}\n`);
  console.log('| Ack peers | Clients | Acked publications/s | Ack p50 | Ack p99 | Delivered / acked | Delivery p50 | Delivery p99 | Lag p50 / max (ops) | Converged after | CPU per ack | Context switches per ack | Retries (codes) |');
  console.log('|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of runs) {
    const codes = Object.entries(r.errors).map(([code, n]) => `${code} ${n}`).join(', ');
    console.log(
      `| ${r.ackPeers} | ${r.clients} | ${formatRate(r.perSecond)} | ${ms(r.p50us)} | ${ms(r.p99us)} | ${r.missing === 0 ? 'all' : `${r.missing} missing`} (${formatRate(r.acked)}) | ` +
        `${ms(r.delivery.p50us)} | ${ms(r.delivery.p99us)} | ${r.lagP50} / ${r.lagMax} | ${r.convergedMs === undefined ? 'no' : `${Math.round(r.convergedMs)} ms`} | ${r.cpuMsPerAck.toFixed(2)} ms | ${Math.round(r.switchesPerAck)} | ${r.retries}${codes ? ` (${codes})` : ''}${r.failed ? `, ${r.failed} failed` : ''} |`,
    );
  }
  const names = [...(runs[0]?.processes.keys() ?? [])];
  console.log('\nCPU (share of one core over the run; 200 % is the whole 2-core machine) and RSS (MiB, at the end of the run) per process; "other" is the rest of the machine (other users):\n');
  console.log(`| Ack peers | Clients | ${names.join(' | ')} |`);
  console.log(`|---:|---:|${names.map(() => '---:').join('|')}|`);
  for (const [ackPeers, shares] of atRest) {
    console.log(`| ${ackPeers} | at rest | ${names.map((name) => (shares.has(name) ? `${Math.round(shares.get(name)! * 100)} %` : '–')).join(' | ')} |`);
  }
  for (const r of runs) {
    console.log(`| ${r.ackPeers} | ${r.clients} | ${names.map((name) => { const p = r.processes.get(name); return p ? `${Math.round(p.cpu * 100)} %${Number.isNaN(p.rssBytes) ? '' : ` / ${mib(p.rssBytes)}`}` : '–'; }).join(' | ')} |`);
  }
  if (requestRows.length > 0) {
    console.log('\nRaw transport, same machine, same invocation: request/reply with 64 B bodies, 2 echo workers × 16 connections, N in flight from one client:\n');
    console.log('| System | In flight | Requests/s | p50 | p99 |');
    console.log('|---|---:|---:|---:|---:|');
    for (const r of requestRows) console.log(`| ${r.system} | ${r.outstanding} | ${formatRate(r.perSecond)} | ${ms(r.p50us)} | ${ms(r.p99us)} |`);
    console.log('\nPub/sub, 128 B, one publisher, one subscriber, unbounded high-water marks:\n');
    console.log('| System | Messages/s | Lost |');
    console.log('|---|---:|---:|');
    for (const r of pubSubRows) console.log(`| ${r.system} | ${formatRate(r.perSecond)} | ${r.lost} |`);
  }
}
