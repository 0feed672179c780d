// WebSocket /v1/stream while three clients publish at once to one channel: a user over HTTP through
// the gateway, and the Python and Go peers' chat clients (peers/python, peers/go) straight over
// ZeroMQ, on a cluster of the reference server and two replicating servers in password mode. Each
// registers and logs in with a password. The socket gets every publication exactly once, in order
// per origin server; one that reconnects with the last op id seen from each origin gets exactly
// what it missed.
import { join } from 'node:path';
import { scratchDir, waitFor } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type GatewayProcess, type Json } from './helpers/cluster.js';
import { PeerChat, buildGoChat, requirePeerToolchains } from './helpers/peerChat.js';
import { StreamClient, opKey, type OpId } from './helpers/streamClient.js';

const PASSWORD = 'stream peers password ✓';
const CHANNEL = 'peers';
/** Publications per publisher in each test. */
const EACH = 20;
/** Replication and subscriptions are quick, but the machine is small and shared. */
const SETTLE_MS = 30_000;

let cluster: Cluster;
let gateway: GatewayProcess;
let python: PeerChat;
let go: PeerChat;
/** The HTTP publisher's and the WebSocket reader's access tokens. */
let httpToken: string;
let readerToken: string;
const sockets: StreamClient[] = [];
const programs = scratchDir('correio-gateway-peers-');

beforeAll(async () => {
  requirePeerToolchains();
  const building = buildGoChat(join(programs.dir, 'bin'));
  cluster = await startCluster(2, 'password', { ref: true });
  gateway = await startGateway(cluster);
  const goChat = await building;
  const wiring = { broker: cluster.broker, proxy: cluster.proxySub };
  // Each peer talks to its own server, so the socket gets publications of both origins.
  [python, go] = await Promise.all([
    PeerChat.python({ ...wiring, user: 'ana-py', service: 'srv.s1' }).ready(),
    PeerChat.go(goChat, { ...wiring, user: 'bruno-go', service: 'srv.s2' }).ready(),
  ]);
  for (const peer of [python, go]) {
    await peer.run('register', { password: PASSWORD });
    await peer.run('login', { password: PASSWORD });
  }
  httpToken = await registerOverHttp('carla-http');
  readerToken = await registerOverHttp('dora-ws');
  const created = await http(`${gateway.url}/v1/channels`, { body: { channel: CHANNEL }, headers: bearer(httpToken) });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  // Every user and the channel replicate to both servers before anyone publishes through either.
  const users = ['ana-py', 'bruno-go', 'carla-http', 'dora-ws'];
  await waitFor(async () => {
    for (const peer of [python, go]) {
      const [listed, channels] = await Promise.all([peer.run('users', { limit: 500 }), peer.run('channels', { limit: 500 })]);
      if (!users.every((user) => listed.users.some((entry: Json) => entry.user === user))) return false;
      if (!channels.channels.some((entry: Json) => entry.channel === CHANNEL)) return false;
    }
    return true;
  }, 'the users and the channel on both servers', SETTLE_MS, 200);
  await warmUp();
}, CLUSTER_START_MS + 300_000);

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await Promise.allSettled([python?.close(), go?.close()]);
  programs.remove();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Registers `user` through the gateway and logs in (on whichever server has the account by then); resolves the access token. */
async function registerOverHttp(user: string): Promise<string> {
  const registered = await http(`${gateway.url}/v1/register`, { body: { user, password: PASSWORD } });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const login = await waitFor(async () => {
    const reply = await http(`${gateway.url}/v1/login`, { body: { user, password: PASSWORD } });
    return reply.status === 200 && reply.body;
  }, `${user}'s login`, SETTLE_MS, 200);
  return login.token;
}

async function openReader(): Promise<StreamClient> {
  const socket = await StreamClient.open(gateway.stream, { token: readerToken });
  sockets.push(socket);
  return socket;
}

/**
 * The gateway's subscription to the channel's topic reaches the servers through the proxy a moment
 * after it is made: a socket that stays open publishes warm-ups through each server until it got
 * one from each, so the sockets of the tests find the topic already flowing (FRAMES.md §3.6).
 */
async function warmUp(): Promise<void> {
  const socket = await openReader();
  expect(await socket.subscribe(CHANNEL)).toMatchObject({ type: 'subscribed' });
  const peers = { s1: python, s2: go };
  await waitFor(async () => {
    const origins = new Set(socket.publications(CHANNEL).map((publication) => publication.op.origin));
    const missing = Object.entries(peers).filter(([origin]) => !origins.has(origin));
    for (const [origin, peer] of missing) await peer.run('publish', { channel: CHANNEL, text: `warm-up via ${origin}` });
    return missing.length === 0;
  }, 'a live publication from each server on the warm-up socket', SETTLE_MS, 250);
}

interface Acked {
  readonly op: OpId;
  readonly text: string;
  readonly user: string;
}

/** The three publishers, each publishing `count` texts `<prefix> <name> <i>` one after the other, all at once; resolves every acknowledgement. */
async function publishAll(prefix: string, count: number, acked: Acked[] = []): Promise<Acked[]> {
  const overHttp = async (text: string) => {
    const reply = await http(`${gateway.url}/v1/channels/${CHANNEL}/messages`, { body: { text }, headers: bearer(httpToken) });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return reply.body;
  };
  const publishers: [string, string, (text: string) => Promise<Json>][] = [
    ['http', 'carla-http', overHttp],
    ['python', 'ana-py', (text) => python.run('publish', { channel: CHANNEL, text })],
    ['go', 'bruno-go', (text) => go.run('publish', { channel: CHANNEL, text })],
  ];
  await Promise.all(
    publishers.map(async ([name, user, publish]) => {
      for (let index = 0; index < count; index += 1) {
        const text = `${prefix} ${name} ${index}`;
        acked.push({ op: (await publish(text)).op, text, user });
      }
    }),
  );
  return acked;
}

/** Waits until `received` holds every acknowledged publication; then a last one from each publisher: anything sent twice would have arrived by then too. */
async function drain(received: () => Json[], acked: Acked[], prefix: string): Promise<void> {
  const has = () => new Set(received().map((publication) => opKey(publication.op)));
  await waitFor(() => acked.every((ack) => has().has(opKey(ack.op))), `every ${prefix} publication on the socket`, SETTLE_MS);
  await publishAll(`${prefix} last`, 1, acked);
  await waitFor(() => acked.every((ack) => has().has(opKey(ack.op))), `the last ${prefix} publications on the socket`, SETTLE_MS);
}

/** Each publication once, by op id and by text; exactly the acknowledged ones; each server's in the order it numbered them. */
function expectExactlyOnce(received: Json[], acked: Acked[]): void {
  const keys = received.map((publication) => opKey(publication.op));
  expect(keys.filter((key, index) => keys.indexOf(key) !== index), 'op ids received twice').toEqual([]);
  const texts = received.map((publication) => publication.text);
  expect(texts.filter((text, index) => texts.indexOf(text) !== index), 'texts received twice').toEqual([]);
  const byKey = new Map(acked.map((ack) => [opKey(ack.op), ack]));
  expect(keys.filter((key) => !byKey.has(key)), 'received but never acknowledged').toEqual([]);
  expect([...byKey.keys()].filter((key) => !keys.includes(key)), 'acknowledged but never received').toEqual([]);
  for (const publication of received) {
    const ack = byKey.get(opKey(publication.op))!;
    expect(publication, opKey(publication.op)).toMatchObject({ channel: CHANNEL, text: ack.text, user: ack.user });
  }
  expectInOriginOrder(received);
}

function expectInOriginOrder(received: Json[]): void {
  const last = new Map<string, number>();
  for (const publication of received) {
    const { origin, seq } = publication.op;
    expect(seq, `${origin}'s op after ${origin}/${last.get(origin)}`).toBeGreaterThan(last.get(origin) ?? 0);
    last.set(origin, seq);
  }
}

/** The last op id seen from each origin, in the order of `received`. */
function lastPerOrigin(received: Json[]): Map<string, number> {
  return new Map(received.map((publication) => [publication.op.origin, publication.op.seq]));
}

describe('WebSocket /v1/stream with Python, Go and HTTP publishers', () => {
  it('delivers every publication made over HTTP and by the Python and Go clients over ZeroMQ exactly once, in order per server', async () => {
    const socket = await openReader();
    expect(await socket.subscribe(CHANNEL)).toMatchObject({ type: 'subscribed', channel: CHANNEL, replayed: 0, complete: true });
    const acked = await publishAll('live', EACH);
    await drain(() => socket.publications(CHANNEL), acked, 'live');
    expectExactlyOnce(socket.publications(CHANNEL), acked);
    // Both servers are origins: the Python client's through s1, the Go client's through s2.
    expect(new Set(acked.map((ack) => ack.op.origin))).toEqual(new Set(['s1', 's2']));
  }, 240_000);

  it('resumes after the last op id seen from each origin while the peers keep publishing: the two sockets together got each publication once', async () => {
    const first = await openReader();
    await first.subscribe(CHANNEL);
    const acked: Acked[] = [];
    const before = publishAll('before', EACH, acked);
    before.catch(() => undefined); // awaited below; a failure meanwhile is reported there
    // Close mid-stream, as soon as publications of both servers arrived.
    await waitFor(() => new Set(first.publications(CHANNEL).map((publication) => publication.op.origin)).size === 2, 'publications of both servers on the first socket', SETTLE_MS);
    await first.close();
    const seen = first.publications(CHANNEL);
    const lastSeen = lastPerOrigin(seen);
    await before;
    // The publishers go on while no socket is open, and while the second one resumes.
    await publishAll('away', EACH, acked);
    const second = await openReader();
    const after = [...lastSeen].map(([origin, seq]) => ({ origin, seq }));
    const [subscribed] = await Promise.all([second.subscribe(CHANNEL, after), publishAll('back', EACH, acked)]);
    expect(subscribed).toMatchObject({ type: 'subscribed', channel: CHANNEL, complete: true });
    await drain(() => [...seen, ...second.publications(CHANNEL)], acked, 'resume');

    // In order per server across the two sockets: the second one's ops come after the last one seen from each origin.
    expectExactlyOnce([...seen, ...second.publications(CHANNEL)], acked);
    const replayed = second.messages.filter((message) => message.type === 'publication' && message.replayed === true);
    expect(replayed.length, 'publications missed while away, sent from history').toBeGreaterThan(0);
  }, 240_000);
});
