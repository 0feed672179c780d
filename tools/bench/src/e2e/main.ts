// End-to-end benchmark: acknowledged, durable, replicated publications per second through the
// whole deployed path — client → broker → one of 3 chat servers (LMDB, fsync on commit) →
// `--ack-peers k` peers applying it durably → reply — with delivery to a subscriber through the
// proxy, replication lag, and CPU and memory per process; at 1, 10 and 100 concurrent clients,
// side by side with the raw broker and proxy underneath, and with a NATS JetStream R3 cluster under
// the same load (jetstream-run.ts).
//   npm run bench:e2e [-- --systems correio,jetstream-always,jetstream-default
//                        --ack-peers 2,1,0 --clients 1,10,100 --duration 5000 --warmup 1000 --no-baselines
//                        --clients-per-process 50 --data-root <dir on a real disk> --server-flags "--concurrency 32"
//                        --client-route direct|broker --server-choice channel|random --clients-per-connection 1
//                        --profile-dir tmp/profiles]   (profiles: npx tsx tools/bench/src/e2e/profile-summary.ts <files>)
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatMicros, formatRate, percentile, sortSamples } from '../stats.js';
import { arg } from '../peers/args.js';
import { scratchUnder, splitClients, spawnTsScript, stopAll, workspaceRoot } from '../processes.js';
import { natsServer } from '../natsServer.js';
import { pubSubBaselines, requestBaselines, type PubSubBaseline, type RequestBaseline } from './baselines.js';
import { printReport, type DeliveryResult, type LoadResult, type Run } from './report.js';
import { JETSTREAM_SYSTEMS, runJetStream, type JetStreamSystem } from './jetstream-run.js';
import { lagSampler, restingCpu, untilConverged, watchProcesses, withOwnReports } from './observe.js';
import { prepareBenchUser, requireRealDisk } from './setup.js';
import { startTopology, type Topology } from './topology.js';

const list = (value: string) => value.split(',').filter(Boolean).map(Number);
const SYSTEMS = ['correio', ...Object.keys(JETSTREAM_SYSTEMS)] as const;

const systems = arg('systems', SYSTEMS.join(',')).split(',').filter(Boolean);
for (const system of systems) if (!(SYSTEMS as readonly string[]).includes(system)) throw new Error(`--systems: unknown ${system}; known: ${SYSTEMS.join(', ')}`);

const ackPeersList = list(arg('ack-peers', '2,1,0'));
const clientCounts = list(arg('clients', '1,10,100'));
const durationMs = Number(arg('duration', '5000'));
const warmupMs = Number(arg('warmup', '1000'));
const baselines = systems.includes('correio') && !process.argv.includes('--no-baselines');
const profileDir = process.argv.includes('--profile-dir') ? resolve(workspaceRoot, arg('profile-dir', 'tmp/profiles')) : undefined;
const serverFlags = arg('server-flags', '').split(' ').filter(Boolean);
/** Correio's clients: straight to a server's direct endpoint once connected (revision 1.9, the default), or through the broker only. */
const clientRoute = arg('client-route', 'direct');
if (clientRoute !== 'direct' && clientRoute !== 'broker') throw new Error(`--client-route: direct or broker, not ${clientRoute}`);
/** Clients per load process: each process drives up to this many DEALERs, so load generation is not one process's event loop. */
const clientsPerLoadProcess = Number(arg('clients-per-process', '50'));
/** Which server a Correio client writes to directly: the channel's (all of a channel's writes through one origin, as a JetStream stream has one leader) or one at random. */
const serverChoice = arg('server-choice', 'channel');
if (serverChoice !== 'channel' && serverChoice !== 'random') throw new Error(`--server-choice: channel or random, not ${serverChoice}`);
/** Correio clients sharing one connection to the broker and to their server (jetstream-load.ts: 10 publishers per `nats` connection). */
const clientsPerConnection = Number(arg('clients-per-connection', '1'));
const SERVERS = ['s1', 's2', 's3'];

const dataParent = requireRealDisk(resolve(arg('data-root', tmpdir())));
if (profileDir) mkdirSync(profileDir, { recursive: true });

const runs: Run[] = [];
/** Per system: each process's CPU share at rest (heartbeats, membership, anti-entropy, metrics, the /health polls). */
const atRest = new Map<string, Map<string, number>>();
/** What each acknowledgement guarantees with three servers (see docs/benchmarks.md). */
const CORREIO_DURABILITY = ['fsync on 1 of 3, async to 2', 'fsync on 2 of 3', 'fsync on 3 of 3'];

async function measure(topology: Topology, token: string, ackPeers: number, clients: number, scratch: string): Promise<Run> {
  const channel = `bench-${clients}`;
  const tag = `a${ackPeers}c${clients}`;
  const deliveredFile = join(scratch, `${tag}-delivered.json`);
  const subscriber = spawnTsScript(join(import.meta.dirname, 'delivery-subscriber.ts'), ['--proxy-sub', topology.proxy.sub, '--channel', channel, '--file', deliveredFile]);
  await subscriber.line(/^subscribed/);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the subscription travels to the proxy

  const window = watchProcesses(topology.processes);
  const lag = lagSampler(topology.health, 200);
  const loads = splitClients(clients, clientsPerLoadProcess).map((share, p) =>
    spawnTsScript(join(import.meta.dirname, 'publish-load.ts'), [
      '--broker', topology.broker, '--clients', String(share), '--duration', String(durationMs), '--warmup', String(warmupMs),
      '--tag', `${tag}p${p}`, '--channel', channel, '--user', 'bench', '--token', token, '--acked-file', join(scratch, `${tag}p${p}-acked.json`),
      '--route', clientRoute, '--clients-per-connection', String(clientsPerConnection), '--server-choice', serverChoice,
    ], profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, `load-${tag}`)}`] : []),
  );
  const results = await Promise.all(loads.map(async (load) => JSON.parse(await load.line(/^\{/, durationMs + warmupMs + 60_000)) as LoadResult));
  const measured = window.end();
  const lagReadings = (await lag.stop()).sort((a, b) => a - b);
  const convergedMs = await untilConverged(topology.health, 30_000);

  // Deliveries trail the acknowledgements by the proxy hop: give them a moment, then collect.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  subscriber.process.kill('SIGTERM');
  const delivery = JSON.parse(await subscriber.line(/^\{/, 30_000)) as DeliveryResult;
  await Promise.all([...loads, subscriber].map((peer) => peer.stop()));
  const delivered = new Set(JSON.parse(readFileSync(deliveredFile, 'utf8')) as string[]);
  const written = loads.map((_, p) => JSON.parse(readFileSync(join(scratch, `${tag}p${p}-acked.json`), 'utf8')) as { acked: string[]; latenciesUs: number[] });
  const acked = written.flatMap((w) => w.acked);
  const latencies = sortSamples(written.flatMap((w) => w.latenciesUs));
  const missing = acked.filter((op) => !delivered.has(op)).length;

  const { processes, ours } = withOwnReports(measured, [
    ['load', { cpu: results.reduce((sum, r) => sum + r.cpuShare, 0), rssBytes: results.reduce((sum, r) => sum + r.rssBytes, 0) }],
    ['subscriber', { cpu: delivery.cpuShare, rssBytes: delivery.rssBytes }],
  ]);
  const perSecond = results.reduce((sum, r) => sum + r.perSecond, 0);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const run: Run = {
    system: `Correio, --ack-peers ${ackPeers}`,
    durability: CORREIO_DURABILITY[ackPeers] ?? `fsync on ${ackPeers + 1}`,
    clients,
    perSecond,
    cpuMsPerAck: (ours * 1_000) / perSecond,
    switchesPerAck: measured.switches / measured.seconds / perSecond,
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    retries: results.reduce((sum, r) => sum + r.retries, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    errors,
    acked: acked.length,
    check: { where: 'delivered', missing },
    delivery,
    replication: { lagP50: lagReadings[Math.floor(lagReadings.length / 2)] ?? Number.NaN, lagMax: lagReadings.at(-1) ?? Number.NaN, convergedMs },
    processes,
  };
  process.stderr.write(
    `ack-peers=${ackPeers} clients=${clients}: ${formatRate(run.perSecond)} acked/s p50 ${formatMicros(run.p50us)} p99 ${formatMicros(run.p99us)}; ` +
      `delivered ${delivery.delivered}/${acked.length} acked (missing ${missing}), lag max ${run.replication?.lagMax} ops, converged ${convergedMs?.toFixed(0) ?? 'never'} ms; ` +
      `retries ${run.retries} ${JSON.stringify(errors)} failed ${run.failed}\n`,
  );
  for (const r of results) for (const [code, message] of Object.entries(r.firstErrors)) process.stderr.write(`  first ${code}: ${message}\n`);
  return run;
}

let requestRows: RequestBaseline[] = [];
let pubSubRows: PubSubBaseline[] = [];
const notes: string[] = [];
try {
  if (baselines) {
    process.stderr.write('baselines: raw broker and proxy …\n');
    requestRows = await requestBaselines(clientCounts, 2_000);
    pubSubRows = await pubSubBaselines(100_000);
  }
  for (const ackPeers of systems.includes('correio') ? ackPeersList : []) {
    const data = scratchUnder(dataParent, 'correio-e2e-');
    const scratch = data.path;
    try {
      const topology = await startTopology({ servers: SERVERS, ackPeers, dataRoot: scratch, serverFlags, ...(profileDir ? { profileDir } : {}) });
      try {
        const token = await prepareBenchUser(topology, clientCounts.map((clients) => `bench-${clients}`));
        atRest.set(`Correio, --ack-peers ${ackPeers}`, await restingCpu(topology.processes, 3_000, () => lagSampler(topology.health, 200)));
        for (const clients of clientCounts) runs.push(await measure(topology, token, ackPeers, clients, scratch));
      } finally {
        await topology.stop();
      }
    } finally {
      data.remove();
    }
  }
  const jetStreams = systems.filter((system): system is JetStreamSystem => system in JETSTREAM_SYSTEMS);
  if (jetStreams.length > 0) {
    const { binary, version } = natsServer();
    notes.push(`nats-server ${version}, file storage, stream R3`);
    for (const system of jetStreams) {
      const result = await runJetStream(system, { binary, dataParent, clientCounts, durationMs, warmupMs, clientsPerProcess: clientsPerLoadProcess });
      runs.push(...result.runs);
      atRest.set(JETSTREAM_SYSTEMS[system].system, result.atRest);
      if (result.payloadBytes !== undefined && !notes.some((note) => note.startsWith('JetStream payload'))) notes.push(`JetStream payload ${result.payloadBytes} B (a Correio publication's body)`);
    }
  }
} finally {
  await stopAll();
}

printReport({ durationMs, warmupMs, dataParent, serverFlags, runs, atRest, notes, requestRows, pubSubRows });
