// End-to-end benchmark: acknowledged, durable, replicated publications per second through the
// whole deployed path — client → broker → one of 3 chat servers (LMDB, fsync on commit) →
// `--ack-peers k` peers applying it durably → reply — with delivery to a subscriber through the
// proxy, replication lag, and CPU and memory per process; at 1, 10 and 100 concurrent clients,
// side by side with the raw broker and proxy underneath.
//   npm run bench:e2e [-- --ack-peers 2,1,0 --clients 1,10,100 --duration 5000 --warmup 1000 --no-baselines
//                        --clients-per-process 50 --data-root <dir on a real disk> --server-flags "--concurrency 32"
//                        --profile-dir tmp/profiles]   (profiles: npx tsx tools/bench/src/e2e/profile-summary.ts <files>)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RequestClient } from '@correio/transport';
import { formatMicros, formatRate, percentile, sortSamples } from '../stats.js';
import { arg } from '../peers/args.js';
import { spawnTsScript, stopAll, workspaceRoot, type Peer } from '../processes.js';
import { pubSubBaselines, requestBaselines, type PubSubBaseline, type RequestBaseline } from './baselines.js';
import { printReport, type DeliveryResult, type LoadResult, type Run } from './report.js';
import { lagSampler, sampleMachine, sampleProcess, untilConverged, type ProcessSample } from './observe.js';
import { startTopology, type Topology } from './topology.js';

const list = (value: string) => value.split(',').filter(Boolean).map(Number);

const ackPeersList = list(arg('ack-peers', '2,1,0'));
const clientCounts = list(arg('clients', '1,10,100'));
const durationMs = Number(arg('duration', '5000'));
const warmupMs = Number(arg('warmup', '1000'));
const baselines = !process.argv.includes('--no-baselines');
const profileDir = process.argv.includes('--profile-dir') ? resolve(workspaceRoot, arg('profile-dir', 'tmp/profiles')) : undefined;
const serverFlags = arg('server-flags', '').split(' ').filter(Boolean);
/** Clients per load process: each process drives up to this many DEALERs, so load generation is not one process's event loop. */
const clientsPerLoadProcess = Number(arg('clients-per-process', '50'));
const SERVERS = ['s1', 's2', 's3'];
const BENCH_PASSWORD = 'bench password';
const TMPFS_MAGIC = 0x01021994;

const dataParent = resolve(arg('data-root', tmpdir()));
if (statfsSync(dataParent).type === TMPFS_MAGIC) {
  throw new Error(`${dataParent} is a tmpfs: fsync there is free and the benchmark would not measure durable writes; pass --data-root <dir on a disk>`);
}
if (profileDir) mkdirSync(profileDir, { recursive: true });

const runs: Run[] = [];
/** Per topology (ack peers): each process's CPU share at rest (heartbeats, membership, anti-entropy, metrics, the /health polls). */
const atRest = new Map<number, Map<string, number>>();

/** CPU of every process over `ms` with no load: the floor every figure above includes. */
async function restingCpu(topology: Topology, ms: number): Promise<Map<string, number>> {
  const before = processSamples(topology);
  const started = performance.now();
  const lag = lagSampler(topology.health, 200); // polled as during the runs
  await new Promise((resolve) => setTimeout(resolve, ms));
  await lag.stop();
  const after = processSamples(topology);
  const seconds = (performance.now() - started) / 1_000;
  const shares = new Map<string, number>();
  for (const [name, sample] of after) {
    const start = before.get(name);
    if (sample && start) shares.set(name, (sample.cpuSeconds - start.cpuSeconds) / seconds);
  }
  return shares;
}

/** Registers the bench user (password mode), logs it in and creates the channels: resolves with its access token. */
async function prepare(topology: Topology): Promise<string> {
  const client = new RequestClient({ endpoint: topology.broker, from: 'bench-setup', timeout: 20_000 });
  try {
    await client.request('srv.s1', 'chat.register.request', { user: 'bench', password: BENCH_PASSWORD }, { retries: 5 });
    const { token } = (await client.request('srv.s1', 'chat.login.request', { user: 'bench', password: BENCH_PASSWORD }, { retries: 5 })).body as { token?: string };
    for (const clients of clientCounts) {
      await client.request('srv.s1', 'chat.channel.create.request', { user: 'bench', channel: `bench-${clients}` }, { retries: 5, auth: token! });
    }
    // The registration is replicated with the channels: once converged, every server accepts the token.
    if ((await untilConverged(topology.health, 30_000)) === undefined) throw new Error('the servers did not converge after the setup writes');
    return token!;
  } finally {
    await client.close();
  }
}

function processSamples(topology: Topology): Map<string, ProcessSample | undefined> {
  return new Map(topology.processes.map(({ name, peer }) => [name, sampleProcess(peer.process.pid!)]));
}

async function measure(topology: Topology, token: string, ackPeers: number, clients: number, scratch: string): Promise<Run> {
  const channel = `bench-${clients}`;
  const tag = `a${ackPeers}c${clients}`;
  const deliveredFile = join(scratch, `${tag}-delivered.json`);
  const subscriber = spawnTsScript(join(import.meta.dirname, 'delivery-subscriber.ts'), ['--proxy-sub', topology.proxy.sub, '--channel', channel, '--file', deliveredFile]);
  await subscriber.line(/^subscribed/);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the subscription travels to the proxy

  const before = processSamples(topology);
  const machineBefore = sampleMachine();
  const startedAt = performance.now();
  const lag = lagSampler(topology.health, 200);
  const processCount = Math.ceil(clients / clientsPerLoadProcess);
  const loads: Peer[] = [];
  for (let p = 0; p < processCount; p++) {
    const share = Math.floor(clients / processCount) + (p < clients % processCount ? 1 : 0);
    loads.push(
      spawnTsScript(join(import.meta.dirname, 'publish-load.ts'), [
        '--broker', topology.broker, '--clients', String(share), '--duration', String(durationMs), '--warmup', String(warmupMs),
        '--tag', `${tag}p${p}`, '--channel', channel, '--user', 'bench', '--token', token, '--acked-file', join(scratch, `${tag}p${p}-acked.json`),
      ], profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, `load-${tag}`)}`] : []),
    );
  }
  const results = await Promise.all(loads.map(async (load) => JSON.parse(await load.line(/^\{/, durationMs + warmupMs + 60_000)) as LoadResult));
  const after = processSamples(topology);
  const machineAfter = sampleMachine();
  const seconds = (performance.now() - startedAt) / 1_000;
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

  const processes = new Map<string, { cpu: number; rssBytes: number }>();
  let switches = 0;
  for (const [name, sample] of after) {
    const start = before.get(name);
    if (!sample || !start) continue;
    processes.set(name, { cpu: (sample.cpuSeconds - start.cpuSeconds) / seconds, rssBytes: sample.rssBytes });
    switches += sample.contextSwitches - start.contextSwitches;
  }
  processes.set('load', { cpu: results.reduce((sum, r) => sum + r.cpuShare, 0), rssBytes: results.reduce((sum, r) => sum + r.rssBytes, 0) });
  processes.set('subscriber', { cpu: delivery.cpuShare, rssBytes: delivery.rssBytes });

  // The whole machine, in cores busy: what these processes did not use went to others (the machine is shared).
  const machineBusy = (machineAfter.busySeconds - machineBefore.busySeconds) / seconds;
  const ours = [...processes.values()].reduce((sum, p) => sum + p.cpu, 0);
  processes.set('other (machine)', { cpu: Math.max(0, machineBusy - ours), rssBytes: Number.NaN });
  const perSecond = results.reduce((sum, r) => sum + r.perSecond, 0);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const run: Run = {
    ackPeers,
    clients,
    perSecond,
    cpuMsPerAck: (ours * 1_000) / perSecond,
    switchesPerAck: switches / seconds / perSecond,
    p50us: percentile(latencies, 50),
    p99us: percentile(latencies, 99),
    retries: results.reduce((sum, r) => sum + r.retries, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    errors,
    acked: acked.length,
    missing,
    delivery,
    lagP50: lagReadings[Math.floor(lagReadings.length / 2)] ?? Number.NaN,
    lagMax: lagReadings.at(-1) ?? Number.NaN,
    convergedMs,
    processes,
  };
  process.stderr.write(
    `ack-peers=${ackPeers} clients=${clients}: ${formatRate(run.perSecond)} acked/s p50 ${formatMicros(run.p50us)} p99 ${formatMicros(run.p99us)}; ` +
      `delivered ${delivery.delivered}/${acked.length} acked (missing ${missing}), lag max ${run.lagMax} ops, converged ${convergedMs?.toFixed(0) ?? 'never'} ms; ` +
      `retries ${run.retries} ${JSON.stringify(errors)} failed ${run.failed}\n`,
  );
  for (const r of results) for (const [code, message] of Object.entries(r.firstErrors)) process.stderr.write(`  first ${code}: ${message}\n`);
  return run;
}

let requestRows: RequestBaseline[] = [];
let pubSubRows: PubSubBaseline[] = [];
try {
  if (baselines) {
    process.stderr.write('baselines: raw broker and proxy …\n');
    requestRows = await requestBaselines(clientCounts, 2_000);
    pubSubRows = await pubSubBaselines(100_000);
  }
  for (const ackPeers of ackPeersList) {
    const scratch = mkdtempSync(join(dataParent, 'correio-e2e-'));
    try {
      const topology = await startTopology({ servers: SERVERS, ackPeers, dataRoot: scratch, serverFlags, ...(profileDir ? { profileDir } : {}) });
      try {
        const token = await prepare(topology);
        atRest.set(ackPeers, await restingCpu(topology, 3_000));
        for (const clients of clientCounts) runs.push(await measure(topology, token, ackPeers, clients, scratch));
      } finally {
        await topology.stop();
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
} finally {
  await stopAll();
}

printReport({ durationMs, warmupMs, dataParent, serverFlags, runs, atRest, requestRows, pubSubRows });
