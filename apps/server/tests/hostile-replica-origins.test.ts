// Replicated operations from origins no server of the cluster is: anyone can publish on the proxy,
// so a raw PUB publishes schema-valid replica.op envelopes from 2000 made-up origins at two servers
// of a real cluster (broker, proxy, reference server, servers: all processes). Nothing of them may
// be stored — not in the stores, their digests, histories or the per-origin metric — while honest
// replication goes on converging (docs/architecture.md, "Peer-keyed state and its bounds"), even
// after forged membership events named some of those origins as servers that are up.
import { join } from 'node:path';
import { MessageCodec } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import { ChatStore } from '@correio/server';
import { readMetric, waitFor } from '@correio/testing';
import { ManagedSocket, encodePublicationHeader } from '@correio/transport';
import { beforeAll, expect, it } from 'vitest';
import { ChatClient } from './helpers/chat.js';
import { clusterHealth, startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { converged, digestOf } from './replication-support.js';

const IDS = ['o1', 'o2'] as const;
const MADE_UP = 2_000;
/** Publications sent before waiting for the servers to have heard them: well under the subscribers' HWM (1000). */
const BATCH = 250;

let infra: Infrastructure;
let servers: ServerProcess[];
let client: ChatClient;
const scratch = fileScratch({ prefix: 'correio-hostile-origins-', closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  servers = await Promise.all(IDS.map((id) => startClusterServer(infra, id, join(scratch.dir, id), ['--anti-entropy', '300'])));
  client = new ChatClient(infra.broker, 'origins-test');
  // Each lists the other, so their operations are accepted from the start.
  await waitFor(async () => (await Promise.all(servers.map(clusterHealth))).every((health) => health.cluster.servers.length === IDS.length), 'both servers listing both', 30_000);
}, 120_000);

const dropped = (server: ServerProcess) => readMetric(server.http, 'correio_replication_unknown_origin_dropped_total');

function forged(origin: string, seq = 1): Operation {
  return { op: { origin, seq }, lc: seq, hlc: [Date.now(), 0], kind: 'login', data: { user: `intruder-${origin}` } };
}

it('drops replica.op from 2000 made-up origins on every server, refuses them in replica.apply.request, stores none, and still converges', async () => {
  await client.call('chat', 'chat.login.request', { user: 'ana' });
  await client.call('chat', 'chat.channel.create.request', { user: 'ana', channel: 'honest' });
  await client.call('chat', 'chat.publish.request', { user: 'ana', channel: 'honest', text: 'before' });

  const codec = new MessageCodec();
  const socket = new ManagedSocket('pub');
  socket.connect(infra.proxy.pub);
  let seq = 0;
  const publish = (op: Operation) => {
    seq++;
    const envelope = { v: 1, type: 'replica.op', id: `forged-${seq}`, from: 'intruder', lc: 1, ts: Date.now(), body: op } as const;
    return socket.send(['replica/', encodePublicationHeader({ p: 'intruder-1', s: seq, n: 1 }), codec.encode(envelope)]);
  };
  try {
    // Until both servers heard one (the subscriptions take a moment to reach this publisher).
    await waitFor(async () => {
      await publish(forged('made-up-probe'));
      return (await Promise.all(servers.map(dropped))).every((count) => count >= 1);
    }, 'the servers hearing the raw publisher', 15_000);
    // Forged membership events first: they name the first batch's origins as servers that are up.
    // Events are anyone's to publish, so they must not make those origins accepted.
    let eventSeq = 0;
    await waitFor(async () => {
      for (let i = 0; i < BATCH; i++) {
        eventSeq++;
        const event = { v: 1, type: 'ref.membership', id: `forged-event-${eventSeq}`, from: 'intruder', lc: 1, ts: Date.now(), body: { server: `made-up-${i}`, rank: 1_000 + i, state: 'up', at: Date.now() } } as const;
        await socket.send(['ref/membership/', encodePublicationHeader({ p: 'intruder-ref', s: eventSeq, n: 1 }), codec.encode(event)]);
      }
      const views = await Promise.all(servers.map(clusterHealth));
      return views.every((health) => health.cluster.servers.some((entry: { server: string }) => entry.server === 'made-up-0'));
    }, 'the servers taking in the forged membership events', 15_000);
    const base = await Promise.all(servers.map(dropped));
    for (let start = 0; start < MADE_UP; start += BATCH) {
      for (let i = start; i < start + BATCH; i++) await publish(forged(`made-up-${i}`));
      const heard = start + BATCH;
      await waitFor(async () => (await Promise.all(servers.map(dropped))).every((count, index) => count >= base[index]! + heard), `${heard} forged operations heard`, 30_000);
    }
  } finally {
    await socket.close();
  }

  // Through the broker, replica.apply.request with a made-up origin is refused whole, with a typed error.
  // (Asked again only while the broker answers for a worker it lost: a loaded machine misses heartbeats.)
  const refused = await waitFor(async () => {
    const failure = await client.failure('srv.o1', 'replica.apply.request', { ops: [forged('made-up-apply'), forged('o1', 10_000)] });
    return (failure.data as { reason?: string } | undefined)?.reason === 'worker-died' ? false : failure;
  }, 'an answer of o1', 20_000);
  expect(refused).toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { reason: 'unknown_origin', origins: ['made-up-apply'] } });

  // Honest writes after the flood replicate as before, from both servers (each knows ana by now).
  await converged(client, IDS, 15_000);
  for (let i = 0; i < 10; i++) await client.call(`srv.${IDS[i % 2]}`, 'chat.publish.request', { user: 'ana', channel: 'honest', text: `after ${i}` });
  const { digest } = await converged(client, IDS, 15_000);
  expect(Object.keys(digest.hwm).sort()).toEqual([...IDS].sort());

  for (const server of servers) {
    expect(server.child.alive).toBe(true);
    expect(await dropped(server)).toBeGreaterThanOrEqual(MADE_UP);
    const metrics = await (await fetch(`${server.http}/metrics`)).text();
    const origins = [...metrics.matchAll(/^correio_replication_high_water_mark\{origin="([^"]+)"\}/gm)].map((match) => match[1]);
    expect(origins.sort()).toEqual([...IDS].sort());
    expect((await clusterHealth(server)).store.hwm).toEqual(digest.hwm);
    const users = (await client.call(`srv.${server.id}`, 'chat.users.request', {})).users.map((user) => user.user);
    expect(users).toEqual(['ana']);
    const history = (await client.call(`srv.${server.id}`, 'chat.history.request', { channel: 'honest', limit: 50 })).messages;
    expect(history.every((message) => (IDS as readonly string[]).includes(message.op.origin))).toBe(true);
    expect(history).toHaveLength(11);
    expect(server.child.stderr).toMatch(/origins the cluster membership does not list were dropped/);
  }
  expect((await digestOf(client, 'o1')).hash).toBe((await digestOf(client, 'o2')).hash);

  // The stores verify, and hold operations of the two servers only.
  for (const server of servers) {
    await server.child.stop();
    const store = ChatStore.open({ path: join(scratch.dir, server.id) });
    try {
      expect(store.verify()).toMatchObject({ ok: true });
      expect(Object.keys(store.digest().hwm).sort()).toEqual([...IDS].sort());
      expect(store.highWaterMark('made-up-0') + store.highWaterMark('made-up-apply')).toBe(0);
    } finally {
      await store.close();
    }
  }
}, 180_000);
