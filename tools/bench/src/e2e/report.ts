// The end-to-end benchmark's results and their Markdown tables.
import { cpus, totalmem } from 'node:os';
import { formatMicros, formatRate } from '../stats.js';
import type { PubSubBaseline, RequestBaseline } from './baselines.js';
import type { ProcessFigures } from './observe.js';

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
  /** Bytes of each publication's payload, where the load reports it (JetStream). */
  payloadBytes?: number;
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
  /** "Correio, --ack-peers 2", "JetStream R3, sync always". */
  system: string;
  /** Where an acknowledged write is when the client gets the acknowledgement, in a few words. */
  durability: string;
  clients: number;
  perSecond: number;
  p50us: number;
  p99us: number;
  retries: number;
  failed: number;
  errors: Record<string, number>;
  acked: number;
  /** How the acknowledged writes were checked afterwards, and how many were missing there. */
  check: { readonly where: 'delivered' | 'stored'; readonly missing: number };
  /** Correio only: delivery to a subscriber through the proxy. */
  delivery?: DeliveryResult;
  /** Correio only: replication lag between the servers (their /health digests). */
  replication?: { lagP50: number; lagMax: number; convergedMs: number | undefined };
  /** CPU time of all the benchmark's processes (servers, broker, proxy, ref, load, subscriber) per acknowledged publication, ms. */
  cpuMsPerAck: number;
  /** Context switches of the servers' (and the broker's, proxy's and ref's) threads per acknowledged publication. */
  switchesPerAck: number;
  /** Process name → CPU share of one core during the run, and RSS at its end. */
  processes: Map<string, ProcessFigures>;
}

export interface Report {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly dataParent: string;
  readonly serverFlags: readonly string[];
  readonly runs: readonly Run[];
  /** Per system: each process's CPU share at rest. */
  readonly atRest: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Versions and sizes worth printing with the tables (nats-server's, the payload's). */
  readonly notes: readonly string[];
  readonly requestRows: readonly RequestBaseline[];
  readonly pubSubRows: readonly PubSubBaseline[];
}

/** Prints the benchmark's tables as Markdown on stdout. */
export function printReport({ durationMs, warmupMs, dataParent, serverFlags, runs, atRest, notes, requestRows, pubSubRows }: Report): void {
  const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)}`;
  const ms = (us: number | undefined) => (us === undefined ? '–' : formatMicros(us));
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ` +
    `${durationMs} ms per run after ${warmupMs} ms warm-up; data on ${dataParent}${serverFlags.length ? `; server flags ${serverFlags.join(' ')}` : ''}${notes.map((note) => `; ${note}`).join('')}\n`);
  console.log('| System | Durability at the ack | Clients | Acked publications/s | Ack p50 | Ack p99 | Delivered or stored / acked | Delivery p50 | Delivery p99 | Lag p50 / max (ops) | Converged after | CPU per ack | Context switches per ack | Retries (codes) |');
  console.log('|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of runs) {
    const codes = Object.entries(r.errors).map(([code, n]) => `${code} ${n}`).join(', ');
    const replication = r.replication;
    console.log(
      `| ${r.system} | ${r.durability} | ${r.clients} | ${formatRate(r.perSecond)} | ${ms(r.p50us)} | ${ms(r.p99us)} | ${r.check.where} ${r.check.missing === 0 ? 'all' : `${r.check.missing} missing`} (${formatRate(r.acked)}) | ` +
        `${ms(r.delivery?.p50us)} | ${ms(r.delivery?.p99us)} | ${replication ? `${replication.lagP50} / ${replication.lagMax}` : '–'} | ` +
        `${replication ? (replication.convergedMs === undefined ? 'no' : `${Math.round(replication.convergedMs)} ms`) : '–'} | ${r.cpuMsPerAck.toFixed(2)} ms | ${Math.round(r.switchesPerAck)} | ${r.retries}${codes ? ` (${codes})` : ''}${r.failed ? `, ${r.failed} failed` : ''} |`,
    );
  }
  // One table per set of processes (Correio's topology, a JetStream cluster).
  const groups = new Map<string, Run[]>();
  for (const r of runs) {
    const key = [...r.processes.keys()].join('|');
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  console.log('\nPer process: CPU as a share of one core over the run (200 % is the whole 2-core machine), in brackets CPU ms per acknowledged write, and RSS in MiB at the end of the run; "other" is the rest of the machine (other users):');
  for (const group of groups.values()) {
    const names = [...group[0]!.processes.keys()];
    console.log(`\n| System | Clients | ${names.join(' | ')} |`);
    console.log(`|---|---:|${names.map(() => '---:').join('|')}|`);
    for (const system of new Set(group.map((r) => r.system))) {
      const shares = atRest.get(system);
      if (shares) console.log(`| ${system} | at rest | ${names.map((name) => (shares.has(name) ? `${Math.round(shares.get(name)! * 100)} %` : '–')).join(' | ')} |`);
    }
    for (const r of group) {
      const cell = (name: string) => {
        const p = r.processes.get(name);
        if (!p) return '–';
        // "other" has no RSS and is not ours: no CPU per write either.
        if (Number.isNaN(p.rssBytes)) return `${Math.round(p.cpu * 100)} %`;
        return `${Math.round(p.cpu * 100)} % (${((p.cpu * 1_000) / r.perSecond).toFixed(2)}) / ${mib(p.rssBytes)}`;
      };
      console.log(`| ${r.system} | ${r.clients} | ${names.map(cell).join(' | ')} |`);
    }
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
