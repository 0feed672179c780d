// Proxy benchmark: messages/s delivered with no loss from one publisher to 1 and 4 subscribers
// (every process separate), 64 B and 1 KiB, through libzmq's native proxy (baseline), the Correio
// proxy in native, metered and guarded modes (apps/proxy, as deployed), and NATS pub/sub.
//   npm run bench:proxy [-- --count 200000] [--systems baseline,native,metered,guarded,nats]
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { formatRate } from './stats.js';
import { spawnPeer, spawnTsPeer, startNats, stopAll, workspaceRoot, type Peer } from './processes.js';
import { arg } from './peers/args.js';

const systems = ['baseline', 'native', 'metered', 'guarded', 'nats'] as const;
type System = (typeof systems)[number];
const names: Record<System, string> = {
  baseline: 'zmq_proxy (zeromq.js Proxy) baseline',
  native: 'Correio proxy, native mode',
  metered: 'Correio proxy, metered mode',
  guarded: 'Correio proxy, guarded mode',
  nats: 'NATS pub/sub',
};
const counts: Record<number, number> = { 64: Number(arg('count', '200000')), 1024: Math.round(Number(arg('count', '200000')) / 2) };
const rows: string[] = [];

/**
 * CPU seconds a process (all its threads) has used, from /proc: what the proxy spends per message
 * is steadier than its rate when other work shares the cores. Field 14/15 (utime, stime) in ticks.
 */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function start(system: System): Promise<{ peers: Peer[]; pub: string[]; sub: string[]; pid: number | undefined }> {
  if (system === 'nats') {
    const nats = await startNats();
    return { peers: [nats.peer], pub: ['--system', 'nats', '--url', nats.url], sub: ['--system', 'nats', '--url', nats.url], pid: nats.peer.process.pid };
  }
  const proxy =
    system === 'baseline'
      ? spawnTsPeer('native-proxy.ts', [])
      : spawnPeer(process.execPath, [
          '--import', 'tsx', '--conditions=@correio/source', join(workspaceRoot, 'apps/proxy/src/main.ts'),
          '--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*', '--mode', system, '--send-hwm', '0', '--receive-hwm', '0',
        ]);
  const line = await proxy.line(/ready /, 120_000);
  const fields = Object.fromEntries(line.split(' ').filter((part) => part.includes('=')).map((part) => part.split('=', 2) as [string, string]));
  return { peers: [proxy], pub: ['--system', 'zmq', '--endpoint', fields['publishers']!], sub: ['--system', 'zmq', '--endpoint', fields['subscribers']!], pid: proxy.process.pid };
}

const chosen = arg('systems', systems.join(',')).split(',');
for (const system of systems.filter((name) => chosen.includes(name))) {
  const { peers, pub, sub, pid } = await start(system);
  try {
    for (const subscribers of [1, 4]) {
      for (const size of [64, 1024]) {
        const count = counts[size]!;
        const subs = Array.from({ length: subscribers }, () => spawnTsPeer('sub-count.ts', [...sub, '--count', String(count)]));
        // Four tsx processes can take longer than the default 20 s to start on a loaded machine.
        await Promise.all(subs.map((peer) => peer.line(/^subscribed/, 120_000)));
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        const cpuBefore = cpuSeconds(pid);
        const publisher = spawnTsPeer('pub-load.ts', [...pub, '--count', String(count), '--size', String(size)]);
        const startedAt = Number((await publisher.line(/^start /)).split(' ')[1]);
        const results = await Promise.all(subs.map(async (peer) => JSON.parse(await peer.line(/^\{/, 300_000)) as { received: number; last: number }));
        const cpuMicros = ((cpuSeconds(pid) - cpuBefore) * 1e6) / (count * subscribers);
        await publisher.stop();
        const lost = results.reduce((sum, r) => sum + (count - r.received), 0);
        const seconds = (Math.max(...results.map((r) => r.last)) - startedAt) / 1_000;
        const rate = count / seconds;
        process.stderr.write(`${system} subs=${subscribers} ${size} B: ${formatRate(rate)} msg/s per subscriber, lost ${lost}, ${cpuMicros.toFixed(1)} µs proxy CPU per delivery\n`);
        rows.push(`| ${names[system]} | ${subscribers} | ${size === 1024 ? '1 KiB' : '64 B'} | ${formatRate(rate)} | ${formatRate(rate * subscribers)} | ${cpuMicros.toFixed(1)} | ${lost === 0 ? 'none' : `${lost} lost`} |`);
      }
    }
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}
await stopAll();
console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${new Date().toISOString().slice(0, 10)}\n`);
console.log('| System | Subscribers | Body | Messages/s (each subscriber) | Deliveries/s (all) | Proxy CPU µs per delivery | Loss |');
console.log('|---|---:|---:|---:|---:|---:|---|');
for (const row of rows) console.log(row);
