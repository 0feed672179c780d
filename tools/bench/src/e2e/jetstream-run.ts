// The end-to-end benchmark's JetStream rows: a 3-node cluster with an R3 file stream started for
// each durability setting, the same client counts and load shape as Correio's rows, the servers'
// CPU and RSS watched the same way, and the stream's message count checked against the acks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatMicros, formatRate, percentile, sortSamples } from '../stats.js';
import { scratchUnder, splitClients, spawnTsScript } from '../processes.js';
import { restingCpu, watchProcesses, withOwnReports } from './observe.js';
import { startJetStreamCluster, SUBJECT_PREFIX, type JetStreamCluster } from './jetstream-cluster.js';
import type { LoadResult, Run } from './report.js';

export const JETSTREAM_SYSTEMS = {
  'jetstream-always': {
    system: 'JetStream R3, sync always',
    syncAlways: true,
    // A stream's Raft group commits an entry once 2 of its 3 nodes (leader included) appended it to
    // their log, which sync_interval: always fsyncs on every write; the third node follows.
    durability: 'fsync on 2 of 3 (Raft quorum)',
  },
  'jetstream-default': {
    system: 'JetStream R3, default sync',
    syncAlways: false,
    // Same quorum, but the log is written to the page cache and fsynced every 2 minutes
    // (sync_interval's default): a process crash loses nothing, losing power on 2 nodes may.
    durability: 'page cache on 2 of 3, fsync ≤ 2 min',
  },
} as const;

export type JetStreamSystem = keyof typeof JETSTREAM_SYSTEMS;

export interface JetStreamOptions {
  readonly binary: string;
  readonly dataParent: string;
  readonly clientCounts: readonly number[];
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly clientsPerProcess: number;
}

async function measure(cluster: JetStreamCluster, label: (typeof JETSTREAM_SYSTEMS)[JetStreamSystem], clients: number, options: JetStreamOptions, scratch: string): Promise<{ run: Run; payloadBytes: number | undefined }> {
  const tag = `js${clients}`;
  const storedBefore = await cluster.storedMessages();
  const window = watchProcesses(cluster.processes);
  const loads = splitClients(clients, options.clientsPerProcess).map((share, p) =>
    spawnTsScript(join(import.meta.dirname, 'jetstream-load.ts'), [
      '--servers', cluster.urls.join(','), '--clients', String(share), '--duration', String(options.durationMs), '--warmup', String(options.warmupMs),
      '--tag', `${tag}p${p}`, '--subject', `${SUBJECT_PREFIX}.${clients}`, '--channel', `bench-${clients}`, '--latencies-file', join(scratch, `${tag}p${p}-latencies.json`),
    ]),
  );
  const results = await Promise.all(loads.map(async (load) => JSON.parse(await load.line(/^\{/, options.durationMs + options.warmupMs + 60_000)) as LoadResult));
  const measured = window.end();
  await Promise.all(loads.map((load) => load.stop()));
  const latencies = sortSamples(loads.flatMap((_, p) => JSON.parse(readFileSync(join(scratch, `${tag}p${p}-latencies.json`), 'utf8')) as number[]));
  const acked = results.reduce((sum, r) => sum + r.total, 0);
  // Every acknowledged id is a distinct message: the stream must hold exactly as many more.
  const stored = (await cluster.storedMessages()) - storedBefore;

  const perSecond = results.reduce((sum, r) => sum + r.perSecond, 0);
  const { processes, ours } = withOwnReports(measured, [['load', { cpu: results.reduce((sum, r) => sum + r.cpuShare, 0), rssBytes: results.reduce((sum, r) => sum + r.rssBytes, 0) }]]);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const run: Run = {
    system: label.system,
    durability: label.durability,
    clients,
    perSecond,
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    retries: results.reduce((sum, r) => sum + r.retries, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    errors,
    acked,
    check: { where: 'stored', missing: Math.max(0, acked - stored) },
    cpuMsPerAck: (ours * 1_000) / perSecond,
    switchesPerAck: measured.switches / measured.seconds / perSecond,
    processes,
  };
  process.stderr.write(
    `${label.system} clients=${clients}: ${formatRate(perSecond)} acked/s p50 ${formatMicros(run.p50us)} p99 ${formatMicros(run.p99us)}; ` +
      `stored ${stored} for ${acked} acked; retries ${run.retries} ${JSON.stringify(errors)} failed ${run.failed}\n`,
  );
  for (const r of results) for (const [code, message] of Object.entries(r.firstErrors)) process.stderr.write(`  first ${code}: ${message}\n`);
  return { run, payloadBytes: results[0]?.payloadBytes };
}

/** Starts a cluster for `system`, measures every client count against it, stops it by PID and removes its data. */
export async function runJetStream(system: JetStreamSystem, options: JetStreamOptions): Promise<{ runs: Run[]; atRest: Map<string, number>; payloadBytes: number | undefined }> {
  const label = JETSTREAM_SYSTEMS[system];
  const data = scratchUnder(options.dataParent, 'correio-e2e-jetstream-');
  const scratch = data.path;
  try {
    const cluster = await startJetStreamCluster({ binary: options.binary, dataRoot: scratch, syncAlways: label.syncAlways });
    try {
      const atRest = await restingCpu(cluster.processes, 3_000);
      const runs: Run[] = [];
      let payloadBytes: number | undefined;
      for (const clients of options.clientCounts) {
        const { run, payloadBytes: bytes } = await measure(cluster, label, clients, options, scratch);
        runs.push(run);
        payloadBytes ??= bytes;
      }
      return { runs, atRest, payloadBytes };
    } finally {
      await cluster.stop();
    }
  } finally {
    data.remove();
  }
}
