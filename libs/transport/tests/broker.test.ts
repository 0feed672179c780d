import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { MajordomoBroker, type BrokerObserver, type MajordomoBrokerOptions } from '@correio/transport';
import {
  C,
  MDPC,
  MDPW,
  RawClient,
  RawWorker,
  W,
  byte,
  closePeers,
  dealer,
  eventually,
  pollReply,
  pollRequest,
  receiveOrNothing,
  sleep,
} from './broker-peers.js';
import { packed } from './helpers/frames.js';

const brokers: MajordomoBroker[] = [];

interface Counted {
  readonly counts: Map<string, number>;
  readonly observer: BrokerObserver;
}

function counting(): Counted {
  const counts = new Map<string, number>();
  const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  return {
    counts,
    observer: {
      requestReceived: (service) => bump(`request:${service}`),
      replyForwarded: (service, final) => bump(`${final ? 'final' : 'partial'}:${service}`),
      errorSent: (service, code) => bump(`error:${service}:${code}`),
      dropped: (reason) => bump(`drop:${reason}`),
      workerReady: (service) => bump(`ready:${service}`),
      workerLeft: (service, why) => bump(`left:${service}:${why}`),
      redispatched: (service) => bump(`redispatched:${service}`),
    },
  };
}

async function startBroker(options: Partial<MajordomoBrokerOptions> = {}): Promise<{ broker: MajordomoBroker; endpoint: string; counts: Map<string, number> }> {
  const { counts, observer } = counting();
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-test', observer, ...options });
  brokers.push(broker);
  await broker.start();
  return { broker, endpoint: broker.endpoints[0]!, counts };
}

afterEach(async () => {
  closePeers();
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

describe('MajordomoBroker: routing', () => {
  it('routes a request to a worker of its service and the FINAL back, bodies untouched', async () => {
    const { endpoint, counts, broker } = await startBroker();
    const worker = await new RawWorker(endpoint, 'clock').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    const request = pollRequest(7);
    await client.send('clock', request.bytes);
    const received = await worker.nextRequest();
    expect(received.body).toEqual([request.bytes]);
    expect(received.envelope.id).toBe(request.id);
    await worker.reply(received.client, pollReply(received.envelope));
    const reply = await client.reply();
    expect(reply.command).toBe(C.FINAL);
    expect(reply.service).toBe('clock');
    expect(reply.envelope).toMatchObject({ type: 'clock.poll.reply', id: request.id, body: { round: 7 } });
    expect(counts.get('request:clock')).toBe(1);
    expect(counts.get('final:clock')).toBe(1);
  });

  it('forwards PARTIAL replies before the FINAL, and multi-frame bodies as they are', async () => {
    const { endpoint, broker } = await startBroker();
    const worker = await new RawWorker(endpoint, 'stream').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    await client.send('stream', Buffer.from('part-a'), Buffer.from('part-b'));
    const frames = await worker.socket.receive();
    expect(frames.slice(4).map(String)).toEqual(['part-a', 'part-b']);
    const address = frames[2]!;
    await worker.socket.send([MDPW, byte(W.PARTIAL), address, Buffer.alloc(0), 'p1']);
    await worker.socket.send([MDPW, byte(W.PARTIAL), address, Buffer.alloc(0), 'p2']);
    await worker.socket.send([MDPW, byte(W.FINAL), address, Buffer.alloc(0), 'f1', 'f2']);
    const replies: string[][] = [];
    for (let i = 0; i < 3; i++) replies.push((await client.socket.receive()).map(String));
    expect(replies).toEqual([
      [MDPC, '\x02', 'stream', 'p1'],
      [MDPC, '\x02', 'stream', 'p2'],
      [MDPC, '\x03', 'stream', 'f1', 'f2'],
    ]);
  });

  it('dispatches to idle workers least recently used first', async () => {
    const { endpoint, broker } = await startBroker();
    const workers = [new RawWorker(endpoint, 'lru'), new RawWorker(endpoint, 'lru'), new RawWorker(endpoint, 'lru')];
    for (const worker of workers) {
      await worker.ready();
      await eventually(() => broker.snapshot().workers === workers.indexOf(worker) + 1, 5_000);
    }
    const client = new RawClient(endpoint);
    const served: number[] = [];
    // Each worker answers whatever it gets at once, so the one that served last is the most recently used.
    const serving = workers.map(async (worker, index) => {
      for (;;) {
        const request = await worker.nextRequest().catch(() => undefined);
        if (request === undefined) return;
        served.push(index);
        await worker.reply(request.client, pollReply(request.envelope));
      }
    });
    for (let round = 0; round < 6; round++) {
      await client.send('lru', pollRequest(round).bytes);
      await client.reply();
    }
    closePeers();
    await Promise.all(serving);
    expect(served).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('keeps requests apart by service and serves them in order within one', async () => {
    const { endpoint, broker } = await startBroker();
    const a = await new RawWorker(endpoint, 'svc-a').ready();
    const b = await new RawWorker(endpoint, 'svc-b').ready();
    await eventually(() => broker.snapshot().workers === 2, 5_000);
    const client = new RawClient(endpoint);
    for (let round = 0; round < 5; round++) {
      await client.send('svc-a', pollRequest(round).bytes);
      await client.send('svc-b', pollRequest(100 + round).bytes);
    }
    const servedA = a.serve(5);
    const servedB = b.serve(5);
    const replies: Awaited<ReturnType<RawClient['reply']>>[] = [];
    for (let i = 0; i < 10; i++) replies.push(await client.reply());
    await Promise.all([servedA, servedB]);
    const rounds = (service: string) => replies.filter((reply) => reply.service === service).map((reply) => (reply.envelope.body as { round: number }).round);
    expect(rounds('svc-a')).toEqual([0, 1, 2, 3, 4]);
    expect(rounds('svc-b')).toEqual([100, 101, 102, 103, 104]);
  });

  it('queues requests while no worker is ready and hands them over when one arrives', async () => {
    const { endpoint, broker } = await startBroker();
    const client = new RawClient(endpoint);
    for (let round = 0; round < 3; round++) await client.send('later', pollRequest(round).bytes);
    await eventually(() => broker.snapshot().queued === 3);
    const worker = await new RawWorker(endpoint, 'later').ready();
    await worker.serve(3);
    const rounds = [];
    for (let i = 0; i < 3; i++) rounds.push(((await client.reply()).envelope.body as { round: number }).round);
    expect(rounds).toEqual([0, 1, 2]);
    expect(broker.snapshot().queued).toBe(0);
  });
});

describe('MajordomoBroker: MMI', () => {
  it('answers mmi.service with 200 or 404 and other mmi. services with 501, as plain frames', async () => {
    const { endpoint, broker } = await startBroker();
    await new RawWorker(endpoint, 'echo').ready();
    // ready() means READY was sent; mmi.service answers 200 once the broker has registered it.
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    const ask = async (service: string, body: string) => {
      await client.send(service, Buffer.from(body));
      return (await client.socket.receive()).map(String);
    };
    expect(await ask('mmi.service', 'echo')).toEqual([MDPC, '\x03', 'mmi.service', '200']);
    expect(await ask('mmi.service', 'nothing')).toEqual([MDPC, '\x03', 'mmi.service', '404']);
    expect(await ask('mmi.workers', 'echo')).toEqual([MDPC, '\x03', 'mmi.workers', '501']);
  });

  it('disconnects a worker that registers in the mmi. namespace', async () => {
    const { endpoint, broker } = await startBroker();
    const worker = await new RawWorker(endpoint, 'mmi.service').ready();
    expect(await worker.nextCommand()).toBe(W.DISCONNECT);
    expect(broker.snapshot().workers).toBe(0);
  });
});

describe('MajordomoBroker: routing ids', () => {
  it('serves a client that reconnects with a routing id its old connection still holds (handover)', async () => {
    const { endpoint, broker } = await startBroker();
    await new RawWorker(endpoint, 'echo').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const ask = async (socket: zmq.Dealer): Promise<string[] | undefined> => {
      await socket.send([MDPC, byte(C.REQUEST), 'mmi.service', 'echo']);
      return (await receiveOrNothing(socket))?.map(String);
    };
    const old = new zmq.Dealer({ linger: 0, receiveTimeout: 3_000, routingId: 'client-7' });
    old.connect(endpoint);
    expect(await ask(old)).toEqual([MDPC, '\x03', 'mmi.service', '200']);
    // The old connection is still open: without handover the broker would park the newcomer unserved.
    const newcomer = new zmq.Dealer({ linger: 0, receiveTimeout: 3_000, routingId: 'client-7' });
    newcomer.connect(endpoint);
    try {
      expect(await ask(newcomer)).toEqual([MDPC, '\x03', 'mmi.service', '200']);
    } finally {
      old.close();
      newcomer.close();
    }
  });
});

describe('MajordomoBroker: errors it answers itself', () => {
  it('answers UNKNOWN_SERVICE after the start-up grace, with the request id, its own id and a merged Lamport clock', async () => {
    const { endpoint, counts } = await startBroker({ startupGraceMs: 0 });
    const client = new RawClient(endpoint);
    const request = pollRequest(1, 'q7Xc2mPz0kR4bT9wLs1aYg', 41);
    await client.send('chatt', request.bytes);
    const reply = await client.reply();
    expect(reply.command).toBe(C.FINAL);
    expect(reply.service).toBe('chatt');
    expect(reply.envelope).toMatchObject({
      type: 'error',
      id: 'q7Xc2mPz0kR4bT9wLs1aYg',
      from: 'broker-test',
      lc: 42,
      body: { code: 'UNKNOWN_SERVICE', message: 'no worker has registered service chatt', retryable: false },
    });
    expect(counts.get('error:chatt:UNKNOWN_SERVICE')).toBe(1);
  });

  it('uses id "0" when the request body is not an envelope it can read', async () => {
    const { endpoint } = await startBroker({ startupGraceMs: 0 });
    const client = new RawClient(endpoint);
    await client.send('nobody', Buffer.from([0xc1, 0xff, 0x00]));
    expect((await client.reply()).envelope).toMatchObject({ type: 'error', id: '0', body: { code: 'UNKNOWN_SERVICE' } });
  });

  it('answers OVERLOADED when the service queue is full, and queues up to the limit', async () => {
    const { endpoint, broker } = await startBroker({ maxQueuePerService: 2 });
    const worker = await new RawWorker(endpoint, 'slow').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    const ids = [];
    for (let round = 0; round < 5; round++) {
      const request = pollRequest(round);
      ids.push(request.id);
      await client.send('slow', request.bytes);
    }
    // One in flight, two queued, two refused.
    const refused = [await client.reply(), await client.reply()];
    expect(refused.map((reply) => reply.envelope.body)).toEqual([
      expect.objectContaining({ code: 'OVERLOADED', retryable: true }),
      expect.objectContaining({ code: 'OVERLOADED', retryable: true }),
    ]);
    expect(refused.map((reply) => reply.envelope.id)).toEqual([ids[3], ids[4]]);
    expect(broker.snapshot()).toMatchObject({ queued: 2, inFlight: 1 });
    await worker.serve(3);
    const served = [await client.reply(), await client.reply(), await client.reply()];
    expect(served.map((reply) => reply.envelope.id)).toEqual(ids.slice(0, 3));
  });

  it('answers OVERLOADED when the total queue bound is reached across services', async () => {
    const { endpoint } = await startBroker({ maxQueueTotal: 2 });
    const client = new RawClient(endpoint);
    await client.send('one', pollRequest(1).bytes);
    await client.send('two', pollRequest(2).bytes);
    await client.send('three', pollRequest(3).bytes);
    const reply = await client.reply();
    expect(reply.service).toBe('three');
    expect(reply.envelope.body).toMatchObject({ code: 'OVERLOADED', data: { limit: 2 } });
  });

  it('answers TIMEOUT when every worker stays busy past the deadline, and UNAVAILABLE when the service has no worker', async () => {
    const { endpoint, broker } = await startBroker({ requestDeadlineMs: 300, heartbeatIntervalMs: 100, liveness: 3 });
    const worker = await new RawWorker(endpoint, 'busy').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    await client.send('busy', pollRequest(1).bytes);
    await worker.nextRequest(); // and never answers, but keeps heartbeating
    const heartbeats = setInterval(() => void worker.heartbeat().catch(() => undefined), 50);
    try {
      const queued = pollRequest(2);
      await client.send('busy', queued.bytes);
      const reply = await client.reply();
      expect(reply.envelope).toMatchObject({ id: queued.id, body: { code: 'TIMEOUT', retryable: true, data: { reason: 'queue-deadline' } } });
    } finally {
      clearInterval(heartbeats);
    }
    // The worker stops heartbeating, expires, and its request is answered; a new one waits for nobody.
    const first = await client.reply();
    expect(first.envelope.body).toMatchObject({ code: 'UNAVAILABLE', data: { reason: 'worker-died' } });
    const lonely = pollRequest(3);
    await client.send('busy', lonely.bytes);
    expect((await client.reply()).envelope).toMatchObject({ id: lonely.id, body: { code: 'UNAVAILABLE', retryable: true, data: { reason: 'no-worker' } } });
  });

  it('answers requests for a never-seen service UNKNOWN_SERVICE when the start-up grace ends', async () => {
    const { endpoint } = await startBroker({ startupGraceMs: 300, requestDeadlineMs: 5_000 });
    const client = new RawClient(endpoint);
    const started = Date.now();
    await client.send('ghost', pollRequest(1).bytes);
    const reply = await client.reply();
    expect(reply.envelope.body).toMatchObject({ code: 'UNKNOWN_SERVICE' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });
});

describe('MajordomoBroker: worker lifecycle', () => {
  it('heartbeats idle workers and expires silent ones', async () => {
    const { endpoint, broker, counts } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    const worker = await new RawWorker(endpoint, 'beat').ready();
    const frames = await worker.socket.receive();
    expect(frames.map(String)).toEqual([MDPW, '\x05']);
    await eventually(() => broker.snapshot().workers === 0, 2_000);
    expect(counts.get('left:beat:expired')).toBe(1);
  });

  it('keeps a worker that heartbeats alive', async () => {
    const { endpoint, broker } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    const worker = await new RawWorker(endpoint, 'alive').ready();
    for (let i = 0; i < 10; i++) {
      await worker.heartbeat();
      await sleep(60);
    }
    expect(broker.snapshot().workers).toBe(1);
  });

  it('answers a dead worker’s request UNAVAILABLE when the service is not idempotent', async () => {
    const { endpoint, counts } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    const worker = await new RawWorker(endpoint, 'fragile').ready();
    const client = new RawClient(endpoint);
    const request = pollRequest(1);
    await client.send('fragile', request.bytes);
    await worker.nextRequest();
    await worker.socket.send([MDPW, byte(W.DISCONNECT)]);
    const reply = await client.reply();
    expect(reply.envelope).toMatchObject({ id: request.id, body: { code: 'UNAVAILABLE', retryable: true, data: { reason: 'worker-died' } } });
    expect(counts.get('left:fragile:disconnected')).toBe(1);
  });

  it('re-dispatches a dead worker’s request once when the service is idempotent', async () => {
    const { endpoint, counts, broker } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3, idempotentServices: ['safe'] });
    const first = await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const second = await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 2, 5_000);
    const client = new RawClient(endpoint);
    const request = pollRequest(9);
    await client.send('safe', request.bytes);
    await first.nextRequest();
    await first.socket.send([MDPW, byte(W.DISCONNECT)]);
    const again = await second.nextRequest();
    expect(again.envelope.id).toBe(request.id);
    // The second worker dies too: a request is re-dispatched only once.
    await second.socket.send([MDPW, byte(W.DISCONNECT)]);
    const reply = await client.reply();
    expect(reply.envelope).toMatchObject({ id: request.id, body: { code: 'UNAVAILABLE' } });
    expect(counts.get('redispatched:safe')).toBe(1);
  });

  it('does not re-dispatch a request whose PARTIAL already reached the client', async () => {
    const { endpoint, broker } = await startBroker({ idempotentServices: ['safe'] });
    const first = await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 2, 5_000);
    const client = new RawClient(endpoint);
    await client.send('safe', pollRequest(1).bytes);
    const request = await first.nextRequest(); // least recently used: the first to register
    await first.reply(request.client, pollReply(request.envelope), false);
    expect((await client.reply()).command).toBe(C.PARTIAL);
    await first.socket.send([MDPW, byte(W.DISCONNECT)]);
    expect((await client.reply()).envelope.body).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('drops the late reply of an evicted worker, counts it, and tells the worker to reconnect', async () => {
    const { endpoint, counts } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    const worker = await new RawWorker(endpoint, 'paused').ready();
    const client = new RawClient(endpoint, 500);
    await client.send('paused', pollRequest(1).bytes);
    const request = await worker.nextRequest();
    // Silent past liveness (as if SIGSTOPped): evicted, the client told UNAVAILABLE.
    expect((await client.reply()).envelope.body).toMatchObject({ code: 'UNAVAILABLE' });
    await worker.reply(request.client, pollReply(request.envelope));
    expect(await worker.nextCommand()).toBe(W.DISCONNECT);
    expect(await client.replyOrNothing()).toBeUndefined();
    expect(counts.get('drop:late-reply')).toBe(1);
  });
});

describe('MajordomoBroker: protocol violations', () => {
  it('disconnects a worker that sends READY twice, and forgets it', async () => {
    const { endpoint, broker, counts } = await startBroker();
    const worker = await new RawWorker(endpoint, 'twice').ready();
    await worker.ready();
    expect(await worker.nextCommand()).toBe(W.DISCONNECT);
    expect(broker.snapshot().workers).toBe(0);
    expect(counts.get('left:twice:protocol-violation')).toBe(1);
  });

  it('disconnects commands from unknown workers and workers sending unknown commands', async () => {
    const { endpoint, counts } = await startBroker();
    const stranger = dealer(endpoint);
    await stranger.send([MDPW, byte(W.HEARTBEAT)]);
    expect((await stranger.receive()).map(String)).toEqual([MDPW, '\x06']);
    await stranger.send([MDPW, byte(W.FINAL), 'client', Buffer.alloc(0), 'body']);
    expect((await stranger.receive()).map(String)).toEqual([MDPW, '\x06']);
    const odd = await new RawWorker(endpoint, 'odd').ready();
    await odd.socket.send([MDPW, byte(0x42)]);
    expect(await odd.nextCommand()).toBe(W.DISCONNECT);
    expect(counts.get('drop:unknown-worker')).toBe(1);
    expect(counts.get('drop:late-reply')).toBe(1);
    expect(counts.get('drop:malformed-worker-command')).toBe(1);
  });

  it('drops malformed client messages and keeps serving everyone else', async () => {
    const { endpoint, counts, broker } = await startBroker({ maxMessageSize: 4096 });
    const worker = await new RawWorker(endpoint, 'echo').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const rogue = dealer(endpoint, 300);
    await rogue.send(['garbage']);
    await rogue.send(['MDPC01', byte(C.REQUEST), 'echo', 'x']);
    await rogue.send([MDPC, byte(0x09), 'echo', 'x']);
    await rogue.send([MDPC, byte(C.REQUEST), 'echo']);
    await rogue.send([MDPC, byte(C.REQUEST), 'bad service', 'x']);
    await rogue.send([MDPC, Buffer.from([1, 1]), 'echo', 'x']);
    const client = new RawClient(endpoint);
    const request = pollRequest(5);
    await client.send('echo', request.bytes);
    await worker.serve(1);
    expect((await client.reply()).envelope.id).toBe(request.id);
    expect(await receiveOrNothing(rogue)).toBeUndefined();
    expect(counts.get('drop:unknown-header')).toBe(2);
    expect(counts.get('drop:malformed-client-command')).toBe(4);
  });

  it('disconnects a peer that sends an oversized frame without disturbing others', async () => {
    const { endpoint, broker } = await startBroker({ maxMessageSize: 4096 });
    const worker = await new RawWorker(endpoint, 'echo').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const rogue = dealer(endpoint, 300);
    await rogue.send([MDPC, byte(C.REQUEST), 'echo', Buffer.alloc(100_000)]);
    const client = new RawClient(endpoint);
    const request = pollRequest(6);
    await client.send('echo', request.bytes);
    await worker.serve(1);
    expect((await client.reply()).envelope.id).toBe(request.id);
    expect(await receiveOrNothing(rogue)).toBeUndefined();
  });
});

describe('MajordomoBroker: packed framing (FRAMES.md §1.12)', () => {
  it('takes one header frame each way from packed peers: REQUEST, PARTIAL and FINAL, bodies untouched', async () => {
    const { endpoint, broker, counts } = await startBroker();
    const worker = await new RawWorker(endpoint, 'stream', 3_000, 'packed').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint, 3_000, 'packed');
    await client.send('stream', Buffer.from('part-a'), Buffer.from('part-b'));
    const frames = await worker.socket.receive();
    expect(frames).toHaveLength(3);
    expect(frames[0]!.subarray(0, 7).equals(packed(MDPW, W.REQUEST))).toBe(true);
    const address = frames[0]!.subarray(7);
    expect(address.length).toBeGreaterThan(0);
    expect(frames.slice(1).map(String)).toEqual(['part-a', 'part-b']);
    await worker.socket.send([packed(MDPW, W.PARTIAL, address), 'p1']);
    await worker.socket.send([packed(MDPW, W.FINAL, address), 'f1', 'f2']);
    const replies: Buffer[][] = [await client.socket.receive(), await client.socket.receive()];
    expect(replies.map((reply) => reply.map((frame) => frame.toString('latin1')))).toEqual([
      ['MDPC02\x02stream', 'p1'],
      ['MDPC02\x03stream', 'f1', 'f2'],
    ]);
    expect(counts.get('final:stream')).toBe(1);
  });

  it('answers every client in its own framing whatever its worker speaks, and the reverse', async () => {
    const { endpoint, broker } = await startBroker();
    const packedWorker = await new RawWorker(endpoint, 'p-svc', 3_000, 'packed').ready();
    const classicWorker = await new RawWorker(endpoint, 'c-svc', 3_000, 'classic').ready();
    await eventually(() => broker.snapshot().workers === 2, 5_000);
    for (const framing of ['classic', 'packed'] as const) {
      const client = new RawClient(endpoint, 3_000, framing);
      for (const [service, worker] of [['p-svc', packedWorker], ['c-svc', classicWorker]] as const) {
        const request = pollRequest(3);
        await client.send(service, request.bytes);
        const received = await worker.nextRequest();
        expect(received.body).toEqual([request.bytes]);
        await worker.reply(received.client, pollReply(received.envelope));
        const reply = await client.reply(); // throws unless framed as the client's request
        expect(reply).toMatchObject({ command: C.FINAL, service, envelope: { id: request.id } });
      }
    }
  });

  it('heartbeats a packed worker and tells it DISCONNECT in packed frames; answers a packed client’s errors and MMI packed', async () => {
    const { endpoint, broker } = await startBroker({ heartbeatIntervalMs: 50, liveness: 200, startupGraceMs: 0 });
    const worker = await new RawWorker(endpoint, 'beat', 3_000, 'packed').ready();
    const heartbeat = await worker.socket.receive();
    expect(heartbeat).toEqual([packed(MDPW, W.HEARTBEAT)]);
    const client = new RawClient(endpoint, 3_000, 'packed');
    const request = pollRequest(1);
    await client.send('nobody', request.bytes);
    expect(await client.reply()).toMatchObject({ command: C.FINAL, service: 'nobody', envelope: { type: 'error', id: request.id, body: { code: 'UNKNOWN_SERVICE' } } });
    await client.send('mmi.service', Buffer.from('beat'));
    expect((await client.socket.receive()).map((frame) => frame.toString('latin1'))).toEqual(['MDPC02\x03mmi.service', '200']);
    await client.send('mmi.other', Buffer.from('x'));
    expect((await client.socket.receive()).map((frame) => frame.toString('latin1'))).toEqual(['MDPC02\x03mmi.other', '501']);
    const closing = broker.close();
    expect(await worker.nextCommand()).toBe(W.DISCONNECT);
    await closing;
  });

  it('drops malformed packed client messages, disconnects malformed packed workers in packed frames, and keeps serving', async () => {
    const { endpoint, broker, counts } = await startBroker({ maxMessageSize: 4096 });
    const worker = await new RawWorker(endpoint, '__proto__', 3_000, 'packed').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const rogue = dealer(endpoint, 300);
    const clientGarbage: (Buffer | string)[][] = [
      [packed(MDPC, C.REQUEST, '__proto__')], // no body
      [packed(MDPC, 0x09, '__proto__'), 'x'], // unknown command
      [packed(MDPC, C.FINAL, '__proto__'), 'x'], // a reply from a client
      [packed(MDPC, C.REQUEST, 'bad service'), 'x'], // space in the name
      [packed(MDPC, C.REQUEST, Buffer.from([0x61, 0x00, 0x7f])), 'x'], // control bytes in the name
      [packed(MDPC, C.REQUEST, 'n'.repeat(256)), 'x'], // a name over 255 bytes
      [packed(MDPC, C.REQUEST), 'x'], // no name at all
    ];
    for (const frames of clientGarbage) await rogue.send(frames);
    await rogue.send([packed('MDPC03', C.REQUEST, 'echo'), 'x']); // another protocol version
    const disconnected = async (frames: (Buffer | string)[]): Promise<void> => {
      const peer = dealer(endpoint);
      await peer.send(frames);
      expect(await peer.receive()).toEqual([packed(MDPW, W.DISCONNECT)]);
    };
    await disconnected([packed(MDPW, W.HEARTBEAT)]); // a worker the broker does not know
    await disconnected([packed(MDPW, W.READY, 'bad service')]);
    await disconnected([packed(MDPW, W.READY, 'svc'), 'extra']);
    await disconnected([packed(MDPW, W.READY)]);
    await disconnected([packed(MDPW, W.READY, 'mmi.mine')]);
    await disconnected([packed(MDPW, W.FINAL, 'client'), 'late']); // a reply from a stranger
    const odd = await new RawWorker(endpoint, 'odd', 3_000, 'packed').ready();
    await odd.socket.send([packed(MDPW, W.HEARTBEAT, 'tail')]);
    expect(await odd.nextCommand()).toBe(W.DISCONNECT);
    const empty = await new RawWorker(endpoint, 'empty', 3_000, 'packed').ready();
    await empty.socket.send([packed(MDPW, W.FINAL), 'no client address']);
    expect(await empty.nextCommand()).toBe(W.DISCONNECT);

    const client = new RawClient(endpoint, 3_000, 'packed');
    const request = pollRequest(9);
    await client.send('__proto__', request.bytes);
    await worker.serve(1);
    expect((await client.reply()).envelope.id).toBe(request.id);
    expect(await receiveOrNothing(rogue)).toBeUndefined();
    expect(counts.get('drop:malformed-client-command')).toBe(clientGarbage.length);
    expect(counts.get('drop:unknown-header')).toBe(1);
    expect(counts.get('drop:malformed-worker-command')).toBe(6);
    expect(counts.get('drop:late-reply')).toBe(1);
    expect(broker.snapshot().workers).toBe(1);
  });
});

describe('MajordomoBroker: shutdown', () => {
  it('answers queued and in-flight requests UNAVAILABLE and tells workers to DISCONNECT', async () => {
    const { endpoint, broker } = await startBroker();
    const worker = await new RawWorker(endpoint, 'closing').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    const inFlight = pollRequest(1);
    const queued = pollRequest(2);
    await client.send('closing', inFlight.bytes);
    await worker.nextRequest();
    await client.send('closing', queued.bytes);
    await eventually(() => broker.snapshot().queued === 1);
    await broker.close();
    const replies = [await client.reply(), await client.reply()];
    expect(replies.map((reply) => [reply.envelope.id, (reply.envelope.body as { code: string }).code])).toEqual([
      [queued.id, 'UNAVAILABLE'],
      [inFlight.id, 'UNAVAILABLE'],
    ]);
    expect(await worker.nextCommand()).toBe(W.DISCONNECT);
    expect(broker.snapshot().state).toBe('closed');
  });

  it('lets in-flight requests finish within the grace time', async () => {
    const { endpoint, broker } = await startBroker();
    const worker = await new RawWorker(endpoint, 'graceful').ready();
    await eventually(() => broker.snapshot().workers === 1, 5_000);
    const client = new RawClient(endpoint);
    const request = pollRequest(1);
    await client.send('graceful', request.bytes);
    const received = await worker.nextRequest();
    const closing = broker.close(2_000);
    await sleep(100);
    await worker.reply(received.client, pollReply(received.envelope));
    await closing;
    expect((await client.reply()).envelope).toMatchObject({ id: request.id, type: 'clock.poll.reply' });
  });

  it('refuses to start twice and reports its bound endpoint', async () => {
    const { broker, endpoint } = await startBroker();
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    await expect(broker.start()).rejects.toThrow(/cannot start/);
  });
});

describe('MajordomoBroker: CURVE', () => {
  it('serves clients and workers that know its public key, and nobody else', async () => {
    const server = zmq.curveKeyPair();
    const { endpoint, broker } = await startBroker({ curve: { server: true, secretKey: server.secretKey } });
    const secured = (): zmq.Dealer => {
      const own = zmq.curveKeyPair();
      const socket = new zmq.Dealer({ linger: 0, receiveTimeout: 3_000, curveServerKey: server.publicKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey });
      socket.connect(endpoint);
      return socket;
    };
    const worker = secured();
    const client = secured();
    const plain = dealer(endpoint, 500);
    try {
      await worker.send([MDPW, byte(W.READY), 'secret']);
      await eventually(() => broker.snapshot().workers === 1, 5_000);
      const request = pollRequest(3);
      await client.send([MDPC, byte(C.REQUEST), 'secret', request.bytes]);
      const [, , address, , body] = await worker.receive();
      expect(Buffer.compare(body!, request.bytes)).toBe(0);
      await worker.send([MDPW, byte(W.FINAL), address!, Buffer.alloc(0), 'ok']);
      expect((await client.receive()).map(String)).toEqual([MDPC, '\x03', 'secret', 'ok']);
      // A plain (non-CURVE) peer never completes the handshake: its request goes nowhere.
      await plain.send([MDPC, byte(C.REQUEST), 'mmi.service', 'secret']).catch(() => undefined);
      expect(await receiveOrNothing(plain)).toBeUndefined();
    } finally {
      worker.close();
      client.close();
    }
  });
});
