// Three servers register with a reference server, elect the highest rank, and re-elect when it leaves.
// Run from the repository root: npx tsx --conditions=@correio/source libs/discovery/examples/election.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ServerNode } from '@correio/discovery';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';

// A broker and a proxy in this process; the reference server is a program of its own (apps/ref).
const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'] });
await broker.start();
const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
await proxy.start();
const endpoints = { broker: broker.endpoints[0]!, publishEndpoint: proxy.frontend, subscribeEndpoint: proxy.backend };
const dataDir = mkdtempSync(join(tmpdir(), 'correio-ref-'));
const correio = fileURLToPath(new URL('../../../apps/cli/bin/correio.mjs', import.meta.url));
const ref = spawn(process.execPath, [correio, 'ref', '--broker', endpoints.broker, '--proxy-pub', proxy.frontend, '--proxy-sub', proxy.backend, '--data-dir', dataDir, '--heartbeat', '200', '--misses', '3', '--log-level', 'error'], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, CORREIO_SUPERVISED: '1' }, // it stops by itself if this process dies
});
let refReady = false;
for await (const line of createInterface({ input: ref.stdout })) if ((refReady = line.startsWith('ref ready'))) break;
if (!refReady) throw new Error('the reference server did not start');

// Three servers. Ranks follow first contact; the highest live rank coordinates.
const nodes = ['a', 'b', 'c'].map((server) => new ServerNode({ server, ...endpoints, heartbeatIntervalMs: 200, refMisses: 3, electionTimeoutMs: 300 }));
for (const node of nodes) {
  node.handle('clock.poll.request', (request) => ({ round: (request.body as { round: number }).round, time: Date.now() }));
  console.log(`${node.server} registered with rank ${await node.start()}`);
}
const until = async (condition: () => boolean) => {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 10_000) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};
const [a, b, c] = nodes as [ServerNode, ServerNode, ServerNode];
await until(() => c.isCoordinator && a.coordinator?.server === 'c' && b.coordinator?.server === 'c');
console.log(`coordinator: ${c.server}`);

// Another server's srv.<id> service, through the broker.
const reply = await a.request('b', 'clock.poll.request', { round: 1 });
console.log('b answered', reply.type);

// c leaves (it stops heartbeating): the reference server marks it down after 3 × 200 ms, b takes over.
const left = Date.now();
await c.stop();
await until(() => b.isCoordinator);
console.log(`coordinator: b, ${Date.now() - left} ms after c left`);
await until(() => a.coordinator?.server === 'b');
console.log(`live: ${b.liveServers.map((s) => `${s.server}:${s.rank}`).join(' ')}`);

await Promise.all([a.stop(), b.stop()]);
ref.kill('SIGTERM');
await new Promise((resolve) => ref.once('exit', resolve));
await broker.close();
await proxy.close();
rmSync(dataDir, { recursive: true, force: true });
