// A gateway's end: SIGTERM drains (open WebSockets told to reconnect with 1012, requests in flight
// answered, exit 0), and a gateway killed in the middle of a load loses no acknowledged write.
import { LamportStamp, RequestClient } from '@correio/transport';
import { waitFor } from '@correio/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type Json } from './helpers/cluster.js';
import { StreamClient, opKey } from './helpers/streamClient.js';

let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster(1);
}, CLUSTER_START_MS);

interface Load {
  /** The ops of the publications answered 2xx so far. */
  readonly acknowledged: Json[];
  /** Resolves with the count of requests that failed (an error status or a broken connection). */
  readonly done: Promise<number>;
}

/** Publishes `count` texts on `channel` over `concurrency` parallel loops. */
function publishUnderLoad(url: string, channel: string, count: number, concurrency: number): Load {
  const acknowledged: Json[] = [];
  let failed = 0;
  let next = 0;
  const done = Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = (next += 1);
        try {
          const reply = await http(`${url}/v1/channels/${channel}/messages`, { body: { user: 'ana', text: `load ${index}` } });
          if (reply.status >= 200 && reply.status < 300) acknowledged.push(reply.body.op);
          else failed += 1;
        } catch {
          failed += 1;
        }
      }
    }),
  ).then(() => failed);
  return { acknowledged, done };
}

/** Every op in the channel's history, read straight from the cluster over MDP. */
async function historyOps(channel: string): Promise<Set<string>> {
  const client = new RequestClient({ endpoint: cluster.broker, stamp: new LamportStamp('lifecycle-test'), timeout: 3_000, retries: 3 });
  const ops = new Set<string>();
  try {
    let before: string | undefined;
    for (let page = 0; page < 100; page += 1) {
      const reply = (await client.request('chat', 'chat.history.request', { channel, limit: 500, ...(before ? { before } : {}) })).body as Json;
      for (const publication of reply.messages) ops.add(opKey(publication.op));
      if (reply.next === undefined) break;
      before = reply.next;
    }
  } finally {
    await client.close();
  }
  return ops;
}

describe('gateway lifecycle', () => {
  it('drains on SIGTERM: sockets told to reconnect (1012), requests in flight answered, exit 0', async () => {
    const gateway = await startGateway(cluster, [], 'draining gateway');
    await http(`${gateway.url}/v1/login`, { body: { user: 'ana' } });
    await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'drain' } });
    const socket = await StreamClient.open(gateway.stream, { user: 'ana' });
    await socket.subscribe('drain');
    const load = publishUnderLoad(gateway.url, 'drain', 400, 8);
    await waitFor(() => load.acknowledged.length >= 20, 'the load to be under way');
    gateway.child.kill('SIGTERM');
    const [, exit] = await Promise.all([load.done, gateway.child.exited]);
    const { acknowledged } = load;
    expect(exit.code).toBe(0);
    expect(socket.closed?.code).toBe(1012);
    const stored = await historyOps('drain');
    for (const op of acknowledged) expect(stored.has(opKey(op))).toBe(true);
  });

  it('loses no acknowledged write when killed mid-load', async () => {
    const gateway = await startGateway(cluster, [], 'killed gateway');
    await http(`${gateway.url}/v1/login`, { body: { user: 'ana' } });
    await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'killed' } });
    const load = publishUnderLoad(gateway.url, 'killed', 3_000, 16);
    await waitFor(() => load.acknowledged.length >= 100, 'the load to be under way');
    gateway.child.kill('SIGKILL');
    const failed = await load.done;
    const { acknowledged } = load;
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);
    const stored = await historyOps('killed');
    const lost = acknowledged.filter((op) => !stored.has(opKey(op)));
    expect(lost).toEqual([]);
  });
});
