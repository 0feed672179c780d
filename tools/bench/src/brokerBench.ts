// Broker benchmark: requests/s and latency through (a) a minimal zeromq.js ROUTER/ROUTER broker,
// (b) the Correio broker (apps/broker, as deployed), (c) NATS request/reply; 2 worker processes,
// 1 client process, N = 1 and 100 requests outstanding, 64 B and 1 KiB bodies.
//   npm run bench:broker [-- --duration 4000 --connections 1,16]
import { cpus } from 'node:os';
import { join } from 'node:path';
import { formatMicros, formatRate } from './stats.js';
import { freePort, spawnPeer, spawnTsPeer, startNats, stopAll, workspaceRoot, type Peer } from './processes.js';
import { arg } from './peers/args.js';

interface Result {
  system: string;
  connections: number;
  outstanding: number;
  size: number;
  perSecond: number;
  p50us: number;
  p99us: number;
}

const duration = arg('duration', '4000');
const connectionCounts = arg('connections', '1,16').split(',').map(Number);
const results: Result[] = [];

async function measure(system: 'baseline' | 'mdp' | 'nats', target: string[], outstanding: number, size: number): Promise<Record<string, number>> {
  const load = spawnTsPeer('req-load.ts', ['--system', system, ...target, '--outstanding', String(outstanding), '--size', String(size), '--duration', duration]);
  const line = await load.line(/^\{/, Number(duration) + 30_000);
  await load.stop();
  return JSON.parse(line) as Record<string, number>;
}

async function withSystem(system: 'baseline' | 'mdp' | 'nats', connections: number, body: (target: string[]) => Promise<void>): Promise<void> {
  const peers: Peer[] = [];
  try {
    if (system === 'nats') {
      const nats = await startNats();
      peers.push(nats.peer);
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('nats-worker.ts', ['--url', nats.url]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await body(['--url', nats.url]);
    } else if (system === 'baseline') {
      const broker = spawnTsPeer('baseline-broker.ts', ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*']);
      peers.push(broker);
      const fields = Object.fromEntries((await broker.line(/^ready /)).split(' ').slice(1).map((part) => part.split('=', 2) as [string, string]));
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('baseline-worker.ts', ['--endpoint', fields['backend']!, '--connections', String(connections)]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await body(['--endpoint', fields['frontend']!]);
    } else {
      const endpoint = `tcp://127.0.0.1:${await freePort()}`;
      const broker = spawnPeer(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', join(workspaceRoot, 'apps/broker/src/main.ts'), '--endpoint', endpoint, '--max-queue', '100000', '--hwm', '0']);
      peers.push(broker);
      await broker.line(/^broker ready /);
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('mdp-worker.ts', ['--endpoint', endpoint, '--connections', String(connections)]));
      await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
      await new Promise((resolve) => setTimeout(resolve, 500));
      await body(['--endpoint', endpoint]);
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}

for (const system of ['baseline', 'mdp', 'nats'] as const) {
  for (const connections of system === 'nats' ? [1] : connectionCounts) {
    await withSystem(system, connections, async (target) => {
      for (const outstanding of [1, 100]) {
        for (const size of [64, 1024]) {
          const measured = await measure(system, target, outstanding, size);
          const result = { system, connections, outstanding, size, perSecond: measured['perSecond']!, p50us: measured['p50us']!, p99us: measured['p99us']! };
          results.push(result);
          process.stderr.write(`${system} conn=${connections} N=${outstanding} ${size} B: ${formatRate(result.perSecond)} req/s p50 ${formatMicros(result.p50us)} p99 ${formatMicros(result.p99us)}\n`);
        }
      }
    });
  }
}
await stopAll();

const names = { baseline: 'zeromq.js ROUTER/ROUTER baseline', mdp: 'Correio broker (MDP/0.2)', nats: `NATS request/reply` } as const;
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ${duration} ms per run\n`);
console.log('| System | Worker connections | Outstanding | Body | Requests/s | p50 | p99 |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  const connections = r.system === 'nats' ? '2 subscribers' : `2 × ${r.connections}`;
  console.log(`| ${names[r.system as keyof typeof names]} | ${connections} | ${r.outstanding} | ${r.size === 1024 ? '1 KiB' : `${r.size} B`} | ${formatRate(r.perSecond)} | ${formatMicros(r.p50us)} | ${formatMicros(r.p99us)} |`);
}
