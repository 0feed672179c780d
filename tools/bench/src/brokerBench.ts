// Broker benchmark: requests/s and latency through (a) a minimal zeromq.js ROUTER/ROUTER broker,
// (b) the Correio broker (apps/broker, as deployed) with raw MDP peers in the classic framing and
// (c) in the packed one (FRAMES.md §1.12), (d) NATS request/reply; 2 worker processes, 1 client
// process, N = 1 and 100 requests outstanding, 64 B and 1 KiB bodies.
//   npm run bench:broker [-- --duration 4000 --connections 1,16 --systems baseline,mdp,mdp-packed,nats --outstanding 1,100 --sizes 64,1024]
import { cpus } from 'node:os';
import { formatMicros, formatRate } from './stats.js';
import { processCpuSeconds } from './cpuTime.js';
import { spawnTsPeer, startCorreioBroker, startNats, stopAll, type Peer } from './processes.js';
import { arg } from './peers/args.js';

interface Result {
  system: string;
  connections: number;
  outstanding: number;
  size: number;
  perSecond: number;
  p50us: number;
  p99us: number;
  /** CPU µs per request (user + system, all threads, warm-up included) of the broker, the two workers together, and the client. */
  cpu: { broker: number; workers: number; client: number };
}

const duration = arg('duration', '4000');
const connectionCounts = arg('connections', '1,16').split(',').map(Number);
const outstandings = arg('outstanding', '1,100').split(',').map(Number);
const sizes = arg('sizes', '64,1024').split(',').map(Number);
const SYSTEMS = ['baseline', 'mdp', 'mdp-packed', 'nats'] as const;
const systems = arg('systems', SYSTEMS.join(',')).split(',');
for (const system of systems) if (!(SYSTEMS as readonly string[]).includes(system)) throw new Error(`--systems: unknown ${system}; choose from ${SYSTEMS.join(', ')}`);
const results: Result[] = [];

type System = (typeof SYSTEMS)[number];

/** The processes under test: the broker (or nats-server) and the workers. */
interface Topology {
  readonly target: string[];
  readonly broker: Peer;
  readonly workers: readonly Peer[];
}

async function measure(system: System, topology: Topology, outstanding: number, size: number): Promise<Omit<Result, 'system' | 'connections' | 'outstanding' | 'size'>> {
  const mdp = system === 'mdp' || system === 'mdp-packed' ? ['--system', 'mdp', '--framing', system === 'mdp' ? 'classic' : 'packed'] : ['--system', system];
  const cpuOf = (peers: readonly Peer[]) => peers.reduce((sum, peer) => sum + processCpuSeconds(peer.process.pid!), 0);
  const [broker, workers] = [cpuOf([topology.broker]), cpuOf(topology.workers)];
  const load = spawnTsPeer('req-load.ts', [...mdp, ...topology.target, '--outstanding', String(outstanding), '--size', String(size), '--duration', duration]);
  const measured = JSON.parse(await load.line(/^\{/, Number(duration) + 30_000)) as Record<string, number>;
  const perRequest = (seconds: number) => (seconds * 1e6) / measured['total']!;
  const cpu = { broker: perRequest(cpuOf([topology.broker]) - broker), workers: perRequest(cpuOf(topology.workers) - workers), client: perRequest(measured['cpuMs']! / 1000) };
  await load.stop();
  return { perSecond: measured['perSecond']!, p50us: measured['p50us']!, p99us: measured['p99us']!, cpu };
}

async function withSystem(system: System, connections: number, body: (topology: Topology) => Promise<void>): Promise<void> {
  const peers: Peer[] = [];
  try {
    if (system === 'nats') {
      const nats = await startNats();
      peers.push(nats.peer);
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('nats-worker.ts', ['--url', nats.url]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await body({ target: ['--url', nats.url], broker: nats.peer, workers: peers.slice(1) });
    } else if (system === 'baseline') {
      const broker = spawnTsPeer('baseline-broker.ts', ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*']);
      peers.push(broker);
      const fields = Object.fromEntries((await broker.line(/^ready /)).split(' ').slice(1).map((part) => part.split('=', 2) as [string, string]));
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('baseline-worker.ts', ['--endpoint', fields['backend']!, '--connections', String(connections)]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await body({ target: ['--endpoint', fields['frontend']!], broker, workers: peers.slice(1) });
    } else {
      const { peer, endpoint } = await startCorreioBroker();
      peers.push(peer);
      const framing = system === 'mdp' ? 'classic' : 'packed';
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('mdp-worker.ts', ['--endpoint', endpoint, '--connections', String(connections), '--framing', framing]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await body({ target: ['--endpoint', endpoint], broker: peer, workers: peers.slice(1) });
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}

for (const system of SYSTEMS.filter((name) => systems.includes(name))) {
  for (const connections of system === 'nats' ? [1] : connectionCounts) {
    await withSystem(system, connections, async (topology) => {
      for (const outstanding of outstandings) {
        for (const size of sizes) {
          const result = { system, connections, outstanding, size, ...(await measure(system, topology, outstanding, size)) };
          results.push(result);
          process.stderr.write(`${system} conn=${connections} N=${outstanding} ${size} B: ${formatRate(result.perSecond)} req/s p50 ${formatMicros(result.p50us)} p99 ${formatMicros(result.p99us)}\n`);
        }
      }
    });
  }
}
await stopAll();

const names = { baseline: 'zeromq.js ROUTER/ROUTER baseline', mdp: 'Correio broker (MDP/0.2, classic frames)', 'mdp-packed': 'Correio broker (MDP/0.2, packed frames)', nats: `NATS request/reply` } as const;
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ${duration} ms per run\n`);
console.log('| System | Worker connections | Outstanding | Body | Requests/s | p50 | p99 | CPU µs per request: broker / workers / client |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  const connections = r.system === 'nats' ? '2 subscribers' : `2 × ${r.connections}`;
  console.log(`| ${names[r.system as keyof typeof names]} | ${connections} | ${r.outstanding} | ${r.size === 1024 ? '1 KiB' : `${r.size} B`} | ${formatRate(r.perSecond)} | ${formatMicros(r.p50us)} | ${formatMicros(r.p99us)} | ${[r.cpu.broker, r.cpu.workers, r.cpu.client].map((us) => us.toFixed(1)).join(' / ')} |`);
}
