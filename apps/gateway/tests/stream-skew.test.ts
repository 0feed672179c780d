// Resume across servers whose clocks disagree: s2 runs 30 s behind s1 and will not let s1's
// operations drag its clock forward (--max-clock-offset 1s), so everything s2 publishes sorts 30 s
// before what s1 publishes at the same moment. History order then differs from the order a socket
// receives publications in, and resuming from the last op alone would lose s2's (they sort before
// it); resuming from the last op of each origin gets each missed publication once.
import { LamportStamp, RequestClient } from '@correio/transport';
import { waitFor } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, startServer, type Cluster, type GatewayProcess, type Json } from './helpers/cluster.js';
import { StreamClient, opKey, type OpId } from './helpers/streamClient.js';

const SKEW_MS = 30_000;

let cluster: Cluster;
let gateway: GatewayProcess;
let zmq: RequestClient;
const sockets: StreamClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(0);
  // Read by the server processes at their start only (spawnProgram passes this process's environment
  // on). One request at a time each, so the broker hands consecutive publications to s1 and s2 in turn.
  process.env['CORREIO_SERVER_CONCURRENCY'] = '1';
  const s1 = startServer(cluster, 's1', ['s2']);
  process.env['CORREIO_SERVER_CLOCK_SKEW_MS'] = String(-SKEW_MS);
  process.env['CORREIO_SERVER_MAX_CLOCK_OFFSET'] = '1000';
  const s2 = startServer(cluster, 's2', ['s1']);
  for (const name of ['CORREIO_SERVER_CONCURRENCY', 'CORREIO_SERVER_CLOCK_SKEW_MS', 'CORREIO_SERVER_MAX_CLOCK_OFFSET']) delete process.env[name];
  await Promise.all([s1, s2]);
  gateway = await startGateway(cluster);
  zmq = new RequestClient({ endpoint: cluster.broker, stamp: new LamportStamp('skew-test'), timeout: 3_000, retries: 3 });
  expect((await http(`${gateway.url}/v1/login`, { body: { user: 'ana' } })).status).toBe(200);
  // The login went to whichever server the broker chose; the channel may go to the other before ana's login has
  // replicated there (no --ack-peers here), which answers BAD_REQUEST unknown_user, as documented: try again until
  // it knows her. Any other answer fails the setup.
  await waitFor(async () => {
    const created = await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'skew' } });
    if (created.status === 400 && created.body.code === 'BAD_REQUEST' && created.body.data?.reason === 'unknown_user') return false;
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    return true;
  }, 'the channel created on a server that knows ana', 10_000);
}, CLUSTER_START_MS);

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await zmq?.close();
});

/** Publishes `count` publications through the broker, which hands them to s1 and s2 in turn; returns their ops. */
async function publish(prefix: string, count: number): Promise<Json[]> {
  const publications: Json[] = [];
  for (let index = 0; index < count; index += 1) {
    const reply = await zmq.request('chat', 'chat.publish.request', { user: 'ana', channel: 'skew', text: `${prefix} ${index}` });
    publications.push(reply.body as Json);
  }
  return publications.map((publication) => publication.op);
}

/** The last op received from each origin. */
function lastPerOrigin(publications: Json[]): OpId[] {
  const last = new Map<string, OpId>();
  for (const { op } of publications) last.set(op.origin, op);
  return [...last.values()];
}

async function open(): Promise<StreamClient> {
  const socket = await StreamClient.open(gateway.stream, { user: 'ana' });
  sockets.push(socket);
  return socket;
}

/**
 * Publishes one publication on each server (through `srv.<id>`), then waits until `socket` received
 * every op of `ops` and those. A live publication can be lost on the way (a server's PUB drops it
 * while the gateway's subscription is still travelling to it, and the settle read went to the other
 * server before replication brought it there); the gateway reads it back when the next publication
 * from that server shows the gap, which may come after later ones from the other server.
 */
async function untilAll(socket: StreamClient, ops: OpId[]): Promise<{ received: Json[]; closing: Set<string> }> {
  const closing: OpId[] = [];
  for (const server of ['s1', 's2']) {
    const reply = await zmq.request(`srv.${server}`, 'chat.publish.request', { user: 'ana', channel: 'skew', text: `closing ${server}` });
    closing.push((reply.body as Json).op);
  }
  const wanted = [...ops, ...closing].map(opKey);
  const received = () => new Set(socket.publications('skew').map((publication: Json) => opKey(publication.op)));
  await waitFor(() => wanted.every((key) => received().has(key)), `${wanted.length} publications`, 30_000);
  return { received: socket.publications('skew'), closing: new Set(closing.map(opKey)) };
}

describe('resume across servers with skewed clocks', () => {
  it('gets every publication missed from each server once, though they sort before ones already seen', async () => {
    const first = await open();
    expect(await first.subscribe('skew')).toMatchObject({ type: 'subscribed' });
    // Live publications wait for the read a moment after subscribing (--stream-settle), then go out
    // in the order they arrive: once the first is in, the rest come live.
    await untilAll(first, await publish('warm-up', 1));
    const seen = await publish('before', 10);
    const { received: firstReceived } = await untilAll(first, seen);
    expect(new Set(firstReceived.map((publication: Json) => publication.op.origin))).toEqual(new Set(['s1', 's2']));
    // The skew is real: some publication received later sorts before one received earlier.
    const skewed = firstReceived.some((publication: Json, index: number) => index > 0 && publication.hlc[0] < firstReceived[index - 1].hlc[0] - SKEW_MS / 2);
    expect(skewed).toBe(true);
    const cursor = lastPerOrigin(firstReceived);
    await first.close();

    const away = await publish('away', 12);
    const second = await open();
    const subscribed = await second.subscribe('skew', cursor);
    expect(subscribed).toMatchObject({ type: 'subscribed', replayed: away.length, complete: true });
    const live = await publish('after', 6);
    const { received: secondReceived, closing } = await untilAll(second, [...away, ...live]);

    const keys = secondReceived.map((publication: Json) => opKey(publication.op)).filter((key) => !closing.has(key));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(keys)).toEqual(new Set([...away, ...live].map(opKey)));
    expect(keys.filter((key) => firstReceived.some((publication: Json) => opKey(publication.op) === key))).toEqual([]);
    expect(seen.every((op) => firstReceived.some((publication: Json) => opKey(publication.op) === opKey(op)))).toBe(true);
    // Each server's publications in the order it made them.
    const last = new Map<string, number>();
    for (const { op } of secondReceived) {
      expect(op.seq).toBeGreaterThan(last.get(op.origin) ?? 0);
      last.set(op.origin, op.seq);
    }
  });
});
