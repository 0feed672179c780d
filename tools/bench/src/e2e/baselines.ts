// The raw transport under the end-to-end path, measured quickly on the same machine in the same
// invocation: request/reply through the Correio broker (and a minimal zeromq.js ROUTER/ROUTER
// broker) to 2 echo workers × 16 connections, and pub/sub through the Correio proxy (and libzmq's
// zmq_proxy) to one subscriber. Same peers as bench:broker and bench:proxy, shorter runs.
import { join } from 'node:path';
import { spawnPeer, spawnTsPeer, startCorreioBroker, workspaceRoot, type Peer } from '../processes.js';

export interface RequestBaseline {
  readonly system: 'zeromq.js ROUTER/ROUTER' | 'Correio broker';
  readonly outstanding: number;
  readonly perSecond: number;
  readonly p50us: number;
  readonly p99us: number;
}

export interface PubSubBaseline {
  readonly system: 'zmq_proxy' | 'Correio proxy (native)';
  readonly perSecond: number;
  readonly lost: number;
}

const WORKER_CONNECTIONS = 16;

async function withBroker(system: RequestBaseline['system'], body: (endpoint: string) => Promise<void>): Promise<void> {
  const peers: Peer[] = [];
  try {
    let endpoint: string;
    if (system === 'Correio broker') {
      const broker = await startCorreioBroker();
      peers.push(broker.peer);
      endpoint = broker.endpoint;
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('mdp-worker.ts', ['--endpoint', endpoint, '--connections', String(WORKER_CONNECTIONS)]));
    } else {
      const broker = spawnTsPeer('baseline-broker.ts', ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*']);
      peers.push(broker);
      const fields = Object.fromEntries((await broker.line(/^ready /)).split(' ').slice(1).map((part) => part.split('=', 2) as [string, string]));
      endpoint = fields['frontend']!;
      for (let i = 0; i < 2; i++) peers.push(spawnTsPeer('baseline-worker.ts', ['--endpoint', fields['backend']!, '--connections', String(WORKER_CONNECTIONS)]));
    }
    await Promise.all(peers.slice(1).map((peer) => peer.line(/^ready/)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await body(endpoint);
  } finally {
    await Promise.all(peers.map((peer) => peer.stop()));
  }
}

export async function requestBaselines(outstandings: readonly number[], durationMs: number): Promise<RequestBaseline[]> {
  const results: RequestBaseline[] = [];
  for (const system of ['zeromq.js ROUTER/ROUTER', 'Correio broker'] as const) {
    await withBroker(system, async (endpoint) => {
      for (const outstanding of outstandings) {
        const load = spawnTsPeer('req-load.ts', ['--system', system === 'Correio broker' ? 'mdp' : 'baseline', '--endpoint', endpoint, '--outstanding', String(outstanding), '--size', '64', '--duration', String(durationMs), '--warmup', '500']);
        const measured = JSON.parse(await load.line(/^\{/, durationMs + 30_000)) as { perSecond: number; p50us: number; p99us: number };
        await load.stop();
        results.push({ system, outstanding, perSecond: measured.perSecond, p50us: measured.p50us, p99us: measured.p99us });
      }
    });
  }
  return results;
}

export async function pubSubBaselines(count: number): Promise<PubSubBaseline[]> {
  const results: PubSubBaseline[] = [];
  for (const system of ['zmq_proxy', 'Correio proxy (native)'] as const) {
    const proxy =
      system === 'zmq_proxy'
        ? spawnTsPeer('native-proxy.ts', [])
        : spawnPeer(process.execPath, [
            '--import', 'tsx', '--conditions=@correio/source', join(workspaceRoot, 'apps/proxy/src/main.ts'),
            '--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*', '--send-hwm', '0', '--receive-hwm', '0',
          ]);
    const peers: Peer[] = [proxy];
    try {
      const fields = Object.fromEntries((await proxy.line(/ready /)).split(' ').filter((part) => part.includes('=')).map((part) => part.split('=', 2) as [string, string]));
      const subscriber = spawnTsPeer('sub-count.ts', ['--system', 'zmq', '--endpoint', fields['subscribers']!, '--count', String(count)]);
      peers.push(subscriber);
      await subscriber.line(/^subscribed/);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const publisher = spawnTsPeer('pub-load.ts', ['--system', 'zmq', '--endpoint', fields['publishers']!, '--count', String(count), '--size', '128']);
      peers.push(publisher);
      const startedAt = Number((await publisher.line(/^start /)).split(' ')[1]);
      const result = JSON.parse(await subscriber.line(/^\{/, 120_000)) as { received: number; last: number };
      results.push({ system, perSecond: result.received / ((result.last - startedAt) / 1_000), lost: count - result.received });
    } finally {
      await Promise.all(peers.map((peer) => peer.stop()));
    }
  }
  return results;
}
