// Gateway benchmark: (1) one acknowledged publish over HTTP (autocannon → apps/gateway → broker →
// chat server) against the same publish over MDP (a RequestClient → broker → chat server) in the
// same run, at the same concurrency; (2) WebSocket fan-out: deliveries/s to 1, 100 and 1,000
// sockets subscribed to one channel, every publication counted on every socket (no loss allowed).
// Broker, proxy, one chat server and the gateway run as child processes; the load runs here.
//   npm run bench:gateway [-- --duration 5000 --connections 16]
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { LamportStamp, RequestClient } from '@correio/transport';
import WebSocket from 'ws';
import { arg } from './peers/args.js';
import { spawnTsScript, stopAll, workspaceRoot, type Peer } from './processes.js';
import { formatMicros, formatRate, percentile, sortSamples } from './stats.js';

const duration = Number(arg('duration', '5000'));
const connections = Number(arg('connections', '16'));
const fanOut = arg('sockets', '1,100,1000').split(',').map(Number);
const TEXT = 'x'.repeat(64);
const main = (app: string) => join(workspaceRoot, 'apps', app, 'src', 'main.ts');
const field = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!;

async function startCluster(dataDir: string): Promise<{ broker: string; gateway: string; peers: Peer[] }> {
  const broker = spawnTsScript(main('broker'), ['--endpoint', 'tcp://127.0.0.1:*', '--max-queue', '100000']);
  const proxy = spawnTsScript(main('proxy'), ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*']);
  const brokerEndpoint = (await broker.line(/^broker ready /)).split(' ')[2]!;
  const proxyLine = await proxy.line(/^proxy ready /);
  const server = spawnTsScript(main('server'), ['--id', 's1', '--data-dir', join(dataDir, 's1'), '--broker', brokerEndpoint, '--proxy-pub', field(proxyLine, 'publishers'), '--proxy-sub', field(proxyLine, 'subscribers')]);
  await server.line(/^server ready /, 60_000);
  const unlimited = ['--rate-ip', '100000000', '--rate-token', '100000000', '--max-sockets', '5000', '--socket-buffer', '16777216'];
  const gateway = spawnTsScript(main('gateway'), ['--broker', brokerEndpoint, '--proxy', field(proxyLine, 'subscribers'), '--port', '0', '--auth', 'open', ...unlimited]);
  const url = field(await gateway.line(/^gateway ready /, 60_000), 'url');
  return { broker: brokerEndpoint, gateway: url, peers: [broker, proxy, server, gateway] };
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
}

interface Row {
  readonly path: string;
  readonly perSecond: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly errors: number;
}

/** The same operation both ways: an acknowledged publish, or a read of the channel list (the gateway's own cost, without the store's). */
const OPERATIONS = {
  publish: {
    http: (gateway: string) => ({ url: `${gateway}/v1/channels/bench/messages`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'bench', text: TEXT }) }),
    mdp: { type: 'chat.publish.request' as const, body: { user: 'bench', channel: 'bench', text: TEXT } },
  },
  'list channels': {
    http: (gateway: string) => ({ url: `${gateway}/v1/channels?limit=10`, method: 'GET' as const }),
    mdp: { type: 'chat.channels.request' as const, body: { limit: 10 } },
  },
};
type Operation = keyof typeof OPERATIONS;

async function overHttp(gateway: string, operation: Operation, seconds = duration / 1000): Promise<Row> {
  const result = await autocannon({ ...OPERATIONS[operation].http(gateway), connections, duration: seconds });
  // autocannon's latency percentiles are in ms; errors and non-2xx count as failures.
  return { path: `${operation}: HTTP (autocannon → gateway → broker → server)`, perSecond: result.requests.average, p50us: result.latency.p50 * 1000, p99us: result.latency.p99 * 1000, errors: result.errors + result.non2xx };
}

async function overMdp(broker: string, operation: Operation): Promise<Row> {
  const { type, body } = OPERATIONS[operation].mdp;
  const client = new RequestClient({ endpoint: broker, stamp: new LamportStamp('bench-mdp'), timeout: 10_000, retries: 0 });
  const samples: number[] = [];
  let errors = 0;
  const end = Date.now() + duration;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const sent = performance.now();
        try {
          await client.request('chat', type, body);
          samples.push((performance.now() - sent) * 1000);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  const sorted = sortSamples(samples);
  return { path: `${operation}: MDP (RequestClient → broker → server)`, perSecond: samples.length / seconds, p50us: percentile(sorted, 50), p99us: percentile(sorted, 99), errors };
}

interface FanOut {
  readonly sockets: number;
  readonly publications: number;
  readonly deliveries: number;
  readonly expected: number;
  readonly perSecond: number;
}

/** `sockets` WebSockets on channel `fan-<n>`; `publications` published over MDP, 16 at a time; deliveries counted until all arrive. */
async function fanOutRun(gateway: string, broker: string, sockets: number, publications: number): Promise<FanOut> {
  const channel = `fan-${sockets}`;
  await post(`${gateway}/v1/channels`, { user: 'bench', channel });
  const stream = `${gateway.replace(/^http/, 'ws')}/v1/stream`;
  let deliveries = 0;
  const clients = await Promise.all(
    Array.from({ length: sockets }, (_, index) =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(stream);
        socket.on('error', reject);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'auth', user: `fan${index % 100}` })));
        socket.on('message', (data) => {
          const message = JSON.parse(data.toString()) as { type: string };
          if (message.type === 'ready') socket.send(JSON.stringify({ type: 'subscribe', channel }));
          else if (message.type === 'subscribed') resolve(socket);
          else if (message.type === 'publication') deliveries += 1;
        });
      }),
    ),
  );
  // The upstream subscription reaches the server through the proxy a moment after the first socket subscribed.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const client = new RequestClient({ endpoint: broker, stamp: new LamportStamp('bench-fan'), timeout: 10_000, retries: 2 });
  const expected = sockets * publications;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < publications) {
        next += 1;
        await client.request('chat', 'chat.publish.request', { user: 'bench', channel, text: TEXT });
      }
    }),
  );
  const deadline = Date.now() + 60_000;
  while (deliveries < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (performance.now() - started) / 1000;
  await client.close();
  for (const socket of clients) socket.terminate();
  return { sockets, publications, deliveries, expected, perSecond: deliveries / seconds };
}

const dataDir = mkdtempSync(join(tmpdir(), 'correio-gateway-bench-'));
const rows: Row[] = [];
const fans: FanOut[] = [];
try {
  const cluster = await startCluster(dataDir);
  await post(`${cluster.gateway}/v1/login`, { user: 'bench' });
  await post(`${cluster.gateway}/v1/channels`, { user: 'bench', channel: 'bench' });
  for (const operation of Object.keys(OPERATIONS) as Operation[]) {
    // Warm both paths up (JIT, connections), then measure each once, MDP first.
    await overHttp(cluster.gateway, operation, 1);
    for (const row of [await overMdp(cluster.broker, operation), await overHttp(cluster.gateway, operation)]) {
      rows.push(row);
      process.stderr.write(`${row.path}: ${formatRate(row.perSecond)}/s\n`);
    }
  }
  for (const sockets of fanOut) {
    const publications = Math.max(200, Math.min(5_000, Math.round(200_000 / sockets)));
    fans.push(await fanOutRun(cluster.gateway, cluster.broker, sockets, publications));
    process.stderr.write(`fan-out ${sockets}: ${formatRate(fans.at(-1)!.perSecond)} deliveries/s\n`);
  }
} finally {
  await stopAll();
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}; ${duration} ms per publish run, ${connections} requests outstanding, 64 B texts\n`);
console.log('| Operation: path | Requests/s | p50 | p99 | Errors |');
console.log('|---|---:|---:|---:|---:|');
for (const row of rows) console.log(`| ${row.path} | ${formatRate(row.perSecond)} | ${formatMicros(row.p50us)} | ${formatMicros(row.p99us)} | ${row.errors} |`);
console.log('');
for (let index = 0; index + 1 < rows.length; index += 2) {
  const [mdp, http] = [rows[index]!, rows[index + 1]!];
  console.log(`${mdp.path.split(':')[0]}: HTTP costs ${(mdp.perSecond / http.perSecond).toFixed(2)} × the MDP path per acknowledged request${index === 0 ? ' (target ≤ 1.5 ×)' : ''}`);
}
console.log('');
console.log('| WebSockets | Publications | Deliveries (expected) | Deliveries/s |');
console.log('|---:|---:|---:|---:|');
for (const fan of fans) console.log(`| ${fan.sockets} | ${fan.publications} | ${fan.deliveries} (${fan.expected}) | ${formatRate(fan.perSecond)} |`);
