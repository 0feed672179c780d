// WebSocket /v1/stream against a running cluster of two replicating servers: every publication,
// made over HTTP or straight over ZeroMQ (MDP through the broker), reaches a socket exactly once;
// a socket that comes back with the last op id it saw gets what it missed, then live ones.
import { LamportStamp, RequestClient } from '@correio/transport';
import { waitFor } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type GatewayProcess, type Json } from './helpers/cluster.js';
import { StreamClient, opKey } from './helpers/streamClient.js';

let cluster: Cluster;
let gateway: GatewayProcess;
let zmq: RequestClient;
const sockets: StreamClient[] = [];

beforeAll(async () => {
  cluster = await startCluster(2);
  gateway = await startGateway(cluster);
  zmq = new RequestClient({ endpoint: cluster.broker, stamp: new LamportStamp('stream-test'), timeout: 3_000, retries: 3 });
  for (const user of ['ana', 'bo']) expect((await http(`${gateway.url}/v1/login`, { body: { user } })).status).toBe(200);
}, CLUSTER_START_MS);

afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.close()));
  await zmq?.close();
});

async function open(user: string): Promise<StreamClient> {
  const socket = await StreamClient.open(gateway.stream, { user });
  sockets.push(socket);
  return socket;
}

async function publishHttp(channel: string, text: string): Promise<Json> {
  const reply = await http(`${gateway.url}/v1/channels/${channel}/messages`, { body: { user: 'ana', text } });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body.op;
}

async function publishZmq(channel: string, text: string): Promise<Json> {
  const reply = await zmq.request('chat', 'chat.publish.request', { user: 'ana', channel, text });
  return (reply.body as Json).op;
}

function expectOnceEach(received: Json[], ops: Json[]): void {
  const keys = received.map((publication) => opKey(publication.op));
  expect(new Set(keys).size).toBe(keys.length);
  expect(new Set(keys)).toEqual(new Set(ops.map(opKey)));
  // In order per origin: each server's sequence numbers only grow.
  const last = new Map<string, number>();
  for (const publication of received) {
    expect(publication.op.seq).toBeGreaterThan(last.get(publication.op.origin) ?? 0);
    last.set(publication.op.origin, publication.op.seq);
  }
}

describe('WebSocket /v1/stream', () => {
  it('delivers every publication made over HTTP and over ZeroMQ exactly once, and direct messages', async () => {
    await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'live' } });
    const socket = await open('bo');
    expect(await socket.subscribe('live')).toMatchObject({ type: 'subscribed', channel: 'live', replayed: 0, complete: true });
    const ops: Json[] = [];
    for (let index = 0; index < 20; index += 1) {
      ops.push(await publishHttp('live', `http ${index}`), await publishZmq('live', `zmq ${index}`));
    }
    await waitFor(() => socket.publications('live').length >= ops.length, 'every publication on the socket');
    // A last one: once it is in, anything sent twice would have arrived too.
    ops.push(await publishHttp('live', 'sentinel'));
    await waitFor(() => socket.publications('live').some((publication: Json) => publication.text === 'sentinel'), 'the sentinel');
    expectOnceEach(socket.publications('live'), ops);

    const direct = await http(`${gateway.url}/v1/users/bo/messages`, { body: { user: 'ana', text: 'psst' } });
    expect(direct.status).toBe(200);
    const message = await socket.next((event) => event.type === 'direct');
    expect(message.message).toMatchObject({ from: 'ana', to: 'bo', text: 'psst', op: direct.body.op });
  });

  it('resumes after the last op id seen: what was missed from history, then live, no gaps, no duplicates', async () => {
    await http(`${gateway.url}/v1/channels`, { body: { user: 'ana', channel: 'resume' } });
    const first = await open('bo');
    await first.subscribe('resume');
    const before: Json[] = [];
    for (let index = 0; index < 5; index += 1) before.push(await publishHttp('resume', `before ${index}`));
    await waitFor(() => first.publications('resume').length >= 5, 'the first five');
    const lastSeen = first.publications('resume').at(-1).op;
    await first.close();

    const away: Json[] = [];
    for (let index = 0; index < 12; index += 1) away.push(index % 2 ? await publishZmq('resume', `away ${index}`) : await publishHttp('resume', `away ${index}`));

    const second = await open('bo');
    const subscribed = await second.subscribe('resume', lastSeen);
    expect(subscribed).toMatchObject({ type: 'subscribed', replayed: away.length, complete: true });
    const after: Json[] = [];
    for (let index = 0; index < 5; index += 1) after.push(await publishZmq('resume', `after ${index}`));
    await waitFor(() => second.publications('resume').length >= away.length + after.length, 'the missed and the new ones');
    after.push(await publishHttp('resume', 'sentinel'));
    await waitFor(() => second.publications('resume').some((publication: Json) => publication.text === 'sentinel'), 'the sentinel');
    const received = second.publications('resume');
    expectOnceEach(received, [...away, ...after]);
    // History first: the missed ones, marked replayed, come before every live one.
    const replayedFlags = second.messages.filter((event) => event.type === 'publication').map((event) => event.replayed === true);
    expect(replayedFlags.slice(0, away.length).every(Boolean)).toBe(true);
  });

  it('resumes direct messages: those sent while away, from anyone, through either server, once each, then live', async () => {
    for (const user of ['cy', 'di', 'eu']) expect((await http(`${gateway.url}/v1/login`, { body: { user } })).status).toBe(200);
    const sendDirect = async (from: string, text: string, viaZmq: boolean): Promise<Json> => {
      if (viaZmq) return ((await zmq.request('chat', 'chat.direct.request', { user: from, to: 'cy', text })).body as Json).op;
      const reply = await http(`${gateway.url}/v1/users/cy/messages`, { body: { user: from, text } });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      return reply.body.op;
    };
    const directs = (socket: StreamClient): Json[] => socket.messages.filter((event) => event.type === 'direct').map((event) => event.message);
    const first = await open('cy');
    const seen: Json[] = [];
    for (let index = 0; index < 4; index += 1) seen.push(await sendDirect(index % 2 ? 'di' : 'eu', `seen ${index}`, index % 2 === 0));
    await waitFor(() => directs(first).length >= seen.length, 'the first direct messages');
    // The last op seen from each origin server.
    const cursor = [...new Map(directs(first).map((message: Json) => [message.op.origin, message.op])).values()];
    await first.close();

    const away: Json[] = [];
    for (let index = 0; index < 6; index += 1) away.push(await sendDirect(index % 2 ? 'eu' : 'di', `away ${index}`, index % 3 === 0));
    const second = await StreamClient.open(gateway.stream, { user: 'cy', after: cursor } as { user: string });
    sockets.push(second);
    const ready = second.messages.find((event) => event.type === 'ready');
    expect(ready).toMatchObject({ user: 'cy', replayed: away.length, complete: true });
    const replayed = second.messages.filter((event) => event.type === 'direct');
    expect(replayed.every((event) => event.replayed === true)).toBe(true);
    expect(new Set(replayed.map((event) => opKey(event.message.op)))).toEqual(new Set(away.map(opKey)));
    const live = [await sendDirect('di', 'live 0', true), await sendDirect('eu', 'live 1', false)];
    await waitFor(() => directs(second).length >= away.length + live.length, 'the live direct messages');
    expectOnceEach(directs(second), [...away, ...live]);
    expect(directs(second).at(-1).text).toBe('live 1');
  });

  it('refuses sockets that do not authenticate, and bad messages', async () => {
    const { default: WebSocket } = await import('ws');
    const closeOf = (socket: InstanceType<typeof WebSocket>) => new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    const silent = new WebSocket(gateway.stream);
    silent.on('open', () => silent.send('{"type":"subscribe","channel":"live"}'));
    expect(await closeOf(silent)).toBe(4401);
    const garbage = new WebSocket(gateway.stream);
    garbage.on('open', () => garbage.send('{not json'));
    expect(await closeOf(garbage)).toBe(4400);
    const socket = await open('bo');
    expect(await socket.subscribe('../etc')).toMatchObject({ type: 'error', code: 'VALIDATION' });
    // Resume points from a hostile client: too many origins, one origin twice, extreme and bad values.
    const tooMany = Array.from({ length: 65 }, (_, index) => ({ origin: `s${index}`, seq: 1 }));
    for (const after of [tooMany, [], [{ origin: 's1', seq: 1 }, { origin: 's1', seq: 2 }], [{ origin: 's1', seq: 0 }], [{ origin: 's1', seq: 2 ** 53 }], [{ origin: 's1' }], [{ origin: '', seq: 1 }]]) {
      expect(await socket.subscribe('live', after as never), JSON.stringify(after).slice(0, 60)).toMatchObject({ type: 'error', code: 'VALIDATION' });
    }
    // The largest seq there is, from both servers: everything counts as seen, nothing is replayed.
    const seenAll = ['s1', 's2'].map((origin) => ({ origin, seq: Number.MAX_SAFE_INTEGER }));
    expect(await socket.subscribe('live', seenAll)).toMatchObject({ type: 'subscribed', replayed: 0, complete: true });
    // An origin named __proto__ is a name like any other (kept in Maps): nothing of it is found.
    expect(await socket.subscribe('resume', [{ origin: '__proto__', seq: 1 }])).toMatchObject({ type: 'subscribed' });
    socket.send({ type: 'ping' });
    await socket.next((event) => event.type === 'pong');
    const badResume = new WebSocket(gateway.stream);
    badResume.on('open', () => badResume.send(JSON.stringify({ type: 'auth', user: 'bo', after: tooMany })));
    expect(await closeOf(badResume)).toBe(4400);
    // A subscribe sent right behind the auth message, before `ready`, is handled once auth is done.
    const eager = new WebSocket(gateway.stream);
    const replies: Json[] = [];
    eager.on('message', (data) => replies.push(JSON.parse(data.toString())));
    eager.on('open', () => {
      eager.send(JSON.stringify({ type: 'auth', user: 'bo' }));
      eager.send(JSON.stringify({ type: 'subscribe', channel: 'live' }));
    });
    await waitFor(() => replies.some((reply) => reply.type === 'subscribed'), 'the early subscribe to be answered');
    expect(replies.map((reply) => reply.type)).toEqual(['ready', 'subscribed']);
    eager.terminate();
  });

  it('closes a socket whose unknown message type is long in bytes, after auth or before ready, and keeps serving', async () => {
    const { default: WebSocket } = await import('ws');
    const closeOf = (socket: InstanceType<typeof WebSocket>) => new Promise<[number, string]>((resolve) => socket.on('close', (code, reason) => resolve([code, reason.toString()])));
    // 50 three-byte characters: the close reason, cut at 40 characters, was 139 bytes, and ws
    // throws for a reason over 123 bytes, from inside the gateway's message handler.
    const type = '界'.repeat(50);
    const late = new WebSocket(gateway.stream);
    late.on('message', () => late.send(JSON.stringify({ type })));
    late.on('open', () => late.send(JSON.stringify({ type: 'auth', user: 'bo' })));
    const [code, reason] = await closeOf(late);
    expect(code).toBe(4400);
    expect(reason).toMatch(/^unknown message type "界+/);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    // Queued before `ready`, it is handled inside the authentication.
    const early = new WebSocket(gateway.stream);
    early.on('open', () => {
      early.send(JSON.stringify({ type: 'auth', user: 'bo' }));
      early.send(JSON.stringify({ type }));
    });
    expect((await closeOf(early))[0]).toBe(4400);
    const socket = await open('bo');
    socket.send({ type: 'ping' });
    await socket.next((event) => event.type === 'pong');
  });
});
