// Acknowledged writes per second through the broker's `chat` service, with 1, 10 and 100
// concurrent clients, for a single server and for three replicating servers, at several worker
// concurrencies (MDP connections per broker service: the writes one server has in flight at once,
// which bounds how many share one group commit). A measurement, not a check: it prints a table
// and asserts nothing about speed. Run it with CORREIO_BENCH=1 (skipped otherwise: it takes a
// minute or two and wants a quiet machine).
import { afterAll, describe, expect, it } from 'vitest';
import { RequestClient } from '@correio/transport';
import { ChatClient } from './helpers/chat.js';
import { killAll, scratchDir, spawnTs, startServerProcess, workspaceRoot, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { converged, untilAcknowledged } from './replication-support.js';

const enabled = process.env['CORREIO_BENCH'] === '1';
if (!enabled) console.info('replication throughput: skipped (set CORREIO_BENCH=1 to measure)');
const scratch = scratchDir('correio-bench-');
afterAll(async () => {
  await killAll();
  scratch.remove();
});

const CLIENTS = [1, 10, 100];
const CONCURRENCY = (process.env['CORREIO_BENCH_CONCURRENCY'] ?? '16,32,64').split(',').map(Number);
/** One server; three replicating servers acknowledging once durable locally; the same waiting for one peer. */
const CLUSTERS: { readonly ids: readonly string[]; readonly ackPeers: number }[] = [
  { ids: ['s1'], ackPeers: 0 },
  { ids: ['s1', 's2', 's3'], ackPeers: 0 },
  { ids: ['s1', 's2', 's3'], ackPeers: 1 },
];
const SECONDS = Number(process.env['CORREIO_BENCH_SECONDS'] ?? 3);
/** Production heartbeating: the tests' 250 ms would charge every worker connection 4 heartbeats a second. */
const HEARTBEAT_MS = 2_500;

async function startQuietInfrastructure(): Promise<Infrastructure> {
  const broker = spawnTs('broker', `${workspaceRoot}/apps/broker/src/main.ts`, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(HEARTBEAT_MS), '--startup-grace', '0']);
  const proxy = spawnTs('proxy', `${workspaceRoot}/apps/proxy/src/main.ts`, ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*']);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /), proxy.waitForLine(/^proxy ready /)]);
  const field = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!;
  return { broker: brokerLine.split(' ')[2]!, proxy: { pub: field(proxyLine, 'publishers'), sub: field(proxyLine, 'subscribers') } };
}

/** Writes as fast as `clients` concurrent clients can for `seconds`; returns acknowledged writes/s and the median latency. */
async function measure(infra: Infrastructure, clients: number, seconds: number, tag: string): Promise<{ rate: number; p50: number; p99: number }> {
  const sockets = Array.from({ length: clients }, (_, i) => new RequestClient({ endpoint: infra.broker, from: `${tag}-${i}`, timeout: 5_000 }));
  const latencies: number[] = [];
  let acks = 0;
  try {
    const warmUntil = performance.now() + 500;
    const stopAt = warmUntil + seconds * 1_000;
    let measuredFrom = 0;
    await Promise.all(
      sockets.map(async (socket, c) => {
        for (let i = 0; performance.now() < stopAt && i < 1_000_000; i++) {
          const sent = performance.now();
          await untilAcknowledged(
            () => socket.request('chat', 'chat.publish.request', { user: 'bench', channel: 'bench', text: `${tag} ${c} ${i}` }, { id: `${tag}-${c}-${i}`, retries: 0 }),
            Date.now() + 30_000,
          );
          const done = performance.now();
          if (sent >= warmUntil && done <= stopAt) {
            measuredFrom ||= sent;
            acks++;
            latencies.push(done - sent);
          }
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    return { rate: acks / seconds, p50: latencies[Math.floor(latencies.length / 2)] ?? NaN, p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN };
  } finally {
    await Promise.all(sockets.map((socket) => socket.close()));
  }
}

describe.skipIf(!enabled)('acknowledged writes per second', () => {
  it('measures 1, 10 and 100 concurrent clients against one server and three replicating servers', async () => {
    const rows: string[] = [];
    for (const { ids, ackPeers } of CLUSTERS) {
      for (const concurrency of CONCURRENCY) {
        const infra = await startQuietInfrastructure();
        const servers: ServerProcess[] = await Promise.all(
          ids.map((id) =>
            startServerProcess(infra, id, `${scratch.dir}/${ids.length}-${ackPeers}-${concurrency}-${id}`, [
              '--concurrency', String(concurrency),
              '--peers', ids.join(','),
              '--ack-peers', String(ackPeers),
              '--heartbeat', String(HEARTBEAT_MS),
              '--no-ref',
            ]),
          ),
        );
        const client = new ChatClient(infra.broker, 'bench-setup');
        try {
          await client.call('srv.s1', 'chat.login.request', { user: 'bench' });
          await client.call('srv.s1', 'chat.channel.create.request', { user: 'bench', channel: 'bench' });
          await converged(client, ids, 15_000);
          for (const clients of CLIENTS) {
            const { rate, p50, p99 } = await measure(infra, clients, SECONDS, `c${ids.length}-${concurrency}-${clients}`);
            rows.push(`| ${ids.length} | ${ackPeers} | ${concurrency} | ${clients} | ${Math.round(rate)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} |`);
          }
          const { ms } = await converged(client, ids, 60_000);
          rows[rows.length - 1] += ` converged ${Math.round(ms)} ms after the last write`;
        } finally {
          await client.close();
          for (const server of servers) server.child.kill('SIGTERM');
          await killAll();
        }
      }
    }
    console.info(['| servers | ack peers | concurrency | clients | acknowledged writes/s | p50 ms | p99 ms |', '|---|---|---|---|---|---|---|', ...rows].join('\n'));
    expect(rows).toHaveLength(CLUSTERS.length * CONCURRENCY.length * CLIENTS.length);
  }, 600_000);
});
