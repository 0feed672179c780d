import { afterEach, describe, expect, it } from 'vitest';
import type { Operation } from '@correio/protocol';
import { MajordomoBroker, Publisher, PubSubProxy, RequestClient, Subscriber, Worker } from '@correio/transport';
import { brokerTransport, Replicator, REPLICA_TOPIC, serveApply, serveDigest, serveFetch, serverService } from '@correio/replication';
import { MemoryLog, publishOp } from './support/MemoryLog.js';

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

/** One server's replication stack over real sockets: srv.<id> worker, replica/ subscriber, publisher, client. */
async function startNode(id: string, ids: string[], broker: string, proxy: PubSubProxy) {
  const log = new MemoryLog();
  const client = new RequestClient({ endpoint: broker, from: id });
  const publisher = new Publisher({ from: id });
  publisher.connect(proxy.frontend);
  const live = new Set(ids.filter((peer) => peer !== id));
  const replicator = new Replicator({ self: id, log, transport: brokerTransport(client, publisher), peers: () => [...live], antiEntropyInterval: 300 });
  const worker = new Worker({
    endpoint: broker,
    service: serverService(id),
    from: id,
    heartbeatInterval: 500,
    handler: (request) => {
      switch (request.type) {
        case 'replica.fetch.request':
          return serveFetch(log, request.body);
        case 'replica.digest.request':
          return serveDigest(log, id);
        case 'replica.apply.request':
          return serveApply(log, id, request.body);
        default:
          throw new Error(`unexpected ${request.type}`);
      }
    },
  }).start();
  let subscriber = listen();
  function listen(): Subscriber {
    const sub = new Subscriber();
    sub.connect(proxy.backend);
    sub.subscribe(REPLICA_TOPIC);
    void (async () => {
      for await (const publication of sub) {
        if (publication.envelope.type === 'replica.op') await replicator.receive(publication.envelope.body as Operation);
      }
    })();
    return sub;
  }
  replicator.start();
  const node = {
    id,
    log,
    replicator,
    async write(text: string) {
      const op = publishOp(id, log.highWaterMark(id) + 1, text);
      await log.apply([op]);
      replicator.publish(op);
      return op;
    },
    /** Stops hearing the replication topic, as a server whose subscription broke would. */
    async deafen() {
      await subscriber.close();
    },
    hear() {
      subscriber = listen();
    },
    async close() {
      await replicator.stop();
      await subscriber.close();
      await worker.stop({ drainTimeout: 200 });
      await publisher.close();
      await client.close();
    },
  };
  closers.push(() => node.close());
  return node;
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Replicator over a real broker and proxy', () => {
  it('converges three servers after one missed a stretch of live publications', async () => {
    const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], heartbeatIntervalMs: 500 });
    await broker.start();
    closers.push(() => broker.close());
    const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
    await proxy.start();
    closers.push(() => proxy.close());

    const ids = ['s1', 's2', 's3'];
    const nodes = await Promise.all(ids.map((id) => startNode(id, ids, broker.endpoints[0]!, proxy)));
    // Each node publishes a probe until it hears it back: its subscription has reached the proxy and
    // its own publisher, so every node hears every node live from here on.
    const probes = await Promise.all(nodes.map((node) => node.write(`probe from ${node.id}`)));
    await until(
      () =>
        nodes.every((node, i) => {
          if (node.replicator.stats.echoesDropped > 0) return true;
          node.replicator.publish(probes[i]!);
          return false;
        }),
      10_000,
    );

    for (let i = 0; i < 20; i++) await nodes[i % 2]!.write(`first ${i}`);
    await nodes[2]!.deafen();
    for (let i = 0; i < 30; i++) await nodes[i % 2]!.write(`while deaf ${i}`);
    nodes[2]!.hear();
    await nodes[2]!.write('back');

    await until(() => new Set(nodes.map((n) => n.log.digest().hash)).size === 1 && nodes[0]!.log.digest().ops === 54, 15_000);
    const digests = nodes.map((n) => n.log.digest());
    expect(digests[1]).toEqual(digests[0]);
    expect(digests[2]).toEqual(digests[0]);
    expect(digests[0]!.hwm).toEqual({ s1: 26, s2: 26, s3: 2 });
    expect(nodes[2]!.replicator.stats.fetched).toBeGreaterThan(0);

    const op = await nodes[0]!.write('confirmed by two peers');
    expect((await nodes[0]!.replicator.replicate([op], 2, 3000)).sort()).toEqual(['s2', 's3']);
  }, 30_000);
});
