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
import { cpuMeter } from './cpuTime.js';
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
  const gateway = spawnTsScript(main('gateway'), ['--broker', brokerEndpoint, '--proxy', field(proxyLine, 'subscribers'), '--port', '0', ...unlimited]);
  const url = field(await gateway.line(/^gateway ready /, 60_000), 'url');
  return { broker: brokerEndpoint, gateway: url, peers: [broker, proxy, server, gateway] };
}

/** The access token every request of the run carries (servers and gateway in password mode, the default). */
let token = '';

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const headers = { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

interface Row {
  readonly path: string;
  readonly perSecond: number;
  /** CPU ms per successful request: the cluster's processes (broker, proxy, server, gateway), and those plus the load generator. */
  readonly clusterCpuMs: number;
  readonly totalCpuMs: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly errors: number;
}

/** The same operation both ways: an acknowledged publish, or a read of the channel list (the gateway's own cost, without the store's). */
const OPERATIONS = {
  publish: {
    http: (gateway: string) => ({ url: `${gateway}/v1/channels/bench/messages`, method: 'POST' as const, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ text: TEXT }) }),
    mdp: { type: 'chat.publish.request' as const, body: { channel: 'bench', text: TEXT } },
  },
  'list channels': {
    http: (gateway: string) => ({ url: `${gateway}/v1/channels?limit=10`, method: 'GET' as const, headers: { authorization: `Bearer ${token}` } }),
    mdp: { type: 'chat.channels.request' as const, body: { limit: 10 } },
  },
};
type Operation = keyof typeof OPERATIONS;

/** CPU ms per request, from a meter started before `count` requests succeeded. */
function cpuPerRequest(meter: ReturnType<typeof cpuMeter>, count: number): Pick<Row, 'clusterCpuMs' | 'totalCpuMs'> {
  const { processes, own } = meter.stop();
  return { clusterCpuMs: (processes * 1000) / count, totalCpuMs: ((processes + own) * 1000) / count };
}

async function overHttp(gateway: string, operation: Operation, pids: readonly number[], seconds = duration / 1000): Promise<Row> {
  const meter = cpuMeter(pids);
  const result = await autocannon({ ...OPERATIONS[operation].http(gateway), connections, duration: seconds });
  // autocannon's latency percentiles are in ms; errors and non-2xx count as failures.
  const errors = result.errors + result.non2xx;
  return {
    path: `${operation}: HTTP (autocannon → gateway → broker → server)`,
    perSecond: result.requests.average,
    ...cpuPerRequest(meter, result.requests.total - errors),
    p50us: result.latency.p50 * 1000,
    p99us: result.latency.p99 * 1000,
    errors,
  };
}

async function overMdp(broker: string, operation: Operation, pids: readonly number[]): Promise<Row> {
  const { type, body } = OPERATIONS[operation].mdp;
  const client = new RequestClient({ endpoint: broker, stamp: new LamportStamp('bench-mdp'), timeout: 10_000, retries: 0 });
  const samples: number[] = [];
  let errors = 0;
  const end = Date.now() + duration;
  const meter = cpuMeter(pids);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        const sent = performance.now();
        try {
          await client.request('chat', type, body, { auth: token });
          samples.push((performance.now() - sent) * 1000);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuPerRequest(meter, samples.length);
  await client.close();
  const sorted = sortSamples(samples);
  return { path: `${operation}: MDP (RequestClient → broker → server)`, perSecond: samples.length / seconds, ...cpu, p50us: percentile(sorted, 50), p99us: percentile(sorted, 99), errors };
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
  await post(`${gateway}/v1/channels`, { channel });
  const stream = `${gateway.replace(/^http/, 'ws')}/v1/stream`;
  let deliveries = 0;
  const clients = await Promise.all(
    Array.from({ length: sockets }, () =>
      new Promise<WebSocket>((resolve, reject) => {
        const socket = new WebSocket(stream);
        socket.on('error', reject);
        socket.on('open', () => socket.send(JSON.stringify({ type: 'auth', token })));
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
        await client.request('chat', 'chat.publish.request', { channel, text: TEXT }, { auth: token });
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
  const pids = cluster.peers.map((peer) => peer.process.pid!);
  const account = { user: 'bench', password: 'bench-password-1' };
  await post(`${cluster.gateway}/v1/register`, account);
  token = String((await post(`${cluster.gateway}/v1/login`, account))['token']);
  await post(`${cluster.gateway}/v1/channels`, { channel: 'bench' });
  for (const operation of Object.keys(OPERATIONS) as Operation[]) {
    // Warm both paths up (JIT, connections), then measure each once, MDP first.
    await overHttp(cluster.gateway, operation, pids, 1);
    for (const row of [await overMdp(cluster.broker, operation, pids), await overHttp(cluster.gateway, operation, pids)]) {
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
console.log('| Operation: path | Requests/s | CPU ms/request: cluster | CPU ms/request: with load generator | p50 | p99 | Errors |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const row of rows) {
  console.log(`| ${row.path} | ${formatRate(row.perSecond)} | ${row.clusterCpuMs.toFixed(2)} | ${row.totalCpuMs.toFixed(2)} | ${formatMicros(row.p50us)} | ${formatMicros(row.p99us)} | ${row.errors} |`);
}
console.log('');
// Cost is CPU time per acknowledged request (it does not move with other load on the machine, as
// wall-clock throughput does); the throughput ratio is printed beside it.
for (let index = 0; index + 1 < rows.length; index += 2) {
  const [mdp, http] = [rows[index]!, rows[index + 1]!];
  const ratio = (of: (row: Row) => number) => (of(http) / of(mdp)).toFixed(2);
  console.log(
    `${mdp.path.split(':')[0]}: HTTP costs ${ratio((row) => row.totalCpuMs)} × the MDP path in CPU per acknowledged request, load generators included ` +
      `(${ratio((row) => row.clusterCpuMs)} × in the cluster's processes alone; ${(mdp.perSecond / http.perSecond).toFixed(2)} × in throughput)${index === 0 ? '; target ≤ 1.5 ×' : ''}`,
  );
}
console.log('');
console.log('| WebSockets | Publications | Deliveries (expected) | Deliveries/s |');
console.log('|---:|---:|---:|---:|');
for (const fan of fans) console.log(`| ${fan.sockets} | ${fan.publications} | ${fan.deliveries} (${fan.expected}) | ${formatRate(fan.perSecond)} |`);
