// What a hostile peer can make the broker hold, and what it says about it: bounds on services and
// workers, forgetting workerless services, and rate-limited warnings about foreign protocol headers.
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { MajordomoBroker, type BrokerObserver, type MajordomoBrokerOptions, type TransportLogger } from '@correio/transport';
import { C, MDPW, RawClient, RawWorker, W, byte, closePeers, eventually, pollReply, pollRequest } from './broker-peers.js';

const brokers: MajordomoBroker[] = [];
const sockets: zmq.Socket[] = [];

afterEach(async () => {
  closePeers();
  for (const socket of sockets.splice(0)) socket.close();
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

interface Warning {
  readonly details: Record<string, unknown>;
  readonly message: string;
}

/** Counters by event and the broker's warn lines. */
function recorder() {
  const counts = new Map<string, number>();
  const warnings: Warning[] = [];
  const bump = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
  const observer: BrokerObserver = {
    dropped: (reason) => bump(`drop:${reason}`),
    workerReady: () => bump('ready'),
    workerLeft: (_service, why) => bump(`left:${why}`),
    refused: (limit) => bump(`refused:${limit}`),
    serviceForgotten: (_service, why) => bump(`forgotten:${why}`),
  };
  const ignore = (): void => undefined;
  const logger: TransportLogger = { debug: ignore, info: ignore, error: ignore, warn: (details, message) => warnings.push({ details: details as Record<string, unknown>, message }) };
  return { counts, warnings, observer, logger, count: (key: string) => counts.get(key) ?? 0 };
}

async function startBroker(options: Partial<MajordomoBrokerOptions> = {}) {
  const recorded = recorder();
  // A long liveness: on a loaded machine the honest raw workers here must not expire mid-test.
  const broker = new MajordomoBroker({
    endpoints: ['tcp://127.0.0.1:*'],
    id: 'broker-bounds',
    heartbeatIntervalMs: 1_000,
    liveness: 30,
    observer: recorded.observer,
    logger: recorded.logger,
    ...options,
  });
  brokers.push(broker);
  await broker.start();
  return { broker, endpoint: broker.endpoints[0]!, ...recorded };
}

function rawDealer(endpoint: string, routingId?: string): zmq.Dealer {
  const socket = new zmq.Dealer({ linger: 0, receiveTimeout: 3_000, sendTimeout: 3_000, ...(routingId ? { routingId } : {}) });
  socket.connect(endpoint);
  sockets.push(socket);
  return socket;
}

async function served(endpoint: string, worker: RawWorker): Promise<void> {
  const client = new RawClient(endpoint);
  const request = pollRequest(1);
  await client.send(worker.service, request.bytes);
  await worker.serve(1);
  const reply = await client.reply();
  expect(reply).toMatchObject({ command: C.FINAL, service: worker.service, envelope: { type: 'clock.poll.reply', id: request.id } });
}

describe('MajordomoBroker: unknown protocol headers', () => {
  it('warns once per interval, naming the peer and the header, and counts every drop', async () => {
    const { endpoint, warnings, count } = await startBroker();
    const rogue = rawDealer(endpoint, 'rogue-peer');
    for (let i = 0; i < 25; i++) await rogue.send(['MDPC01', byte(C.REQUEST), 'echo', 'x']);
    await eventually(() => count('drop:unknown-header') === 25);
    const lines = warnings.filter((warning) => warning.details['header'] !== undefined);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/neither MDPC02 nor MDPW02/);
    expect(lines[0]!.details).toMatchObject({ peer: Buffer.from('rogue-peer').toString('hex'), peerText: 'rogue-peer', header: 'MDPC01' });
  });

  it('shows a binary or long header as printable text, cut to 32 bytes', async () => {
    const { endpoint, warnings, count } = await startBroker();
    const rogue = rawDealer(endpoint);
    await rogue.send([Buffer.concat([Buffer.from('MDP\x00\xff\\', 'latin1'), Buffer.alloc(100, 0x41)])]);
    await eventually(() => count('drop:unknown-header') === 1);
    const details = warnings[0]!.details;
    expect(details['header']).toBe(`MDP\\x00\\xff\\x5c${'A'.repeat(26)}… (106 bytes)`);
    // libzmq's own routing ids are binary: five bytes, the first zero.
    expect(details['peerText']).toMatch(/^\\x00/);
    expect(details['peer']).toMatch(/^00[0-9a-f]{8}$/);
  });
});

describe('MajordomoBroker: bounded services and workers', () => {
  it('READY with ever new names then DISCONNECT, thousands of times: services stay bounded, honest peers are served', async () => {
    const maxServices = 20;
    const { broker, endpoint, count } = await startBroker({ maxServices, startupGraceMs: 0 });
    const honest = await new RawWorker(endpoint, 'honest').ready();
    await eventually(() => broker.snapshot().workers === 1);
    const churn = rawDealer(endpoint, 'churner');
    const rounds = 3_000;
    let largest = 0;
    for (let round = 0; round < rounds; round++) {
      await churn.send([MDPW, byte(W.READY), `churn-${round}`]);
      await churn.send([MDPW, byte(W.DISCONNECT)]);
      if (round % 100 === 99) {
        await eventually(() => count('left:disconnected') === round + 1);
        largest = Math.max(largest, broker.snapshot().services.length);
      }
    }
    // Every churned name took the place of the workerless service that waited longest.
    expect(largest).toBe(maxServices);
    expect(count('forgotten:evicted')).toBe(rounds + 1 - maxServices);
    expect(count('ready')).toBe(rounds + 1);
    expect(broker.snapshot()).toMatchObject({ workers: 1, queued: 0 });
    expect(broker.snapshot().services.map((service) => service.name)).toContain('honest');
    await served(endpoint, honest);
    // A newcomer still finds room.
    const newcomer = await new RawWorker(endpoint, 'newcomer').ready();
    await eventually(() => broker.snapshot().workers === 2);
    await served(endpoint, newcomer);
    expect(broker.snapshot().services.length).toBe(maxServices);
  });

  it('refuses READY beyond maxWorkers with DISCONNECT, counts it, warns once, and admits again when one leaves', async () => {
    const { broker, endpoint, count, warnings } = await startBroker({ maxWorkers: 3 });
    const pool = [];
    for (let i = 0; i < 3; i++) pool.push(await new RawWorker(endpoint, 'pool').ready());
    await eventually(() => broker.snapshot().workers === 3);
    const extra = await new RawWorker(endpoint, 'pool').ready();
    expect(await extra.nextCommand()).toBe(W.DISCONNECT);
    const another = await new RawWorker(endpoint, 'other').ready();
    expect(await another.nextCommand()).toBe(W.DISCONNECT);
    expect(count('refused:workers')).toBe(2);
    expect(broker.snapshot().workers).toBe(3);
    expect(warnings.filter((warning) => /worker connections/.test(warning.message))).toHaveLength(1);
    await pool[0]!.socket.send([MDPW, byte(W.DISCONNECT)]);
    await eventually(() => broker.snapshot().workers === 2);
    await another.ready();
    await eventually(() => broker.snapshot().workers === 3);
    await served(endpoint, another);
  });

  it('when every tracked service has a worker, a new name is refused: READY gets DISCONNECT, a request OVERLOADED', async () => {
    const { broker, endpoint, count } = await startBroker({ maxServices: 2, startupGraceMs: 60_000 });
    const a = await new RawWorker(endpoint, 'svc-a').ready();
    await new RawWorker(endpoint, 'svc-b').ready();
    await eventually(() => broker.snapshot().workers === 2);
    const c = await new RawWorker(endpoint, 'svc-c').ready();
    expect(await c.nextCommand()).toBe(W.DISCONNECT);
    // Within the start-up grace a request for an unseen name would be queued; at the bound it cannot be.
    const client = new RawClient(endpoint);
    const request = pollRequest(1);
    await client.send('svc-d', request.bytes);
    expect((await client.reply()).envelope).toMatchObject({ id: request.id, body: { code: 'OVERLOADED', retryable: true, data: { limit: 2 } } });
    expect(count('refused:services')).toBe(2);
    // svc-a loses its worker: its place goes to the next new name.
    await a.socket.send([MDPW, byte(W.DISCONNECT)]);
    await eventually(() => broker.snapshot().workers === 1);
    await c.ready();
    await eventually(() => broker.snapshot().workers === 2);
    expect(count('forgotten:evicted')).toBe(1);
    expect(broker.snapshot().services.map((service) => service.name).sort()).toEqual(['svc-b', 'svc-c']);
    await served(endpoint, c);
  });

  it('forgets a service that has had no worker for serviceExpiryMs, answering what waited for it', async () => {
    const { broker, endpoint, count } = await startBroker({ serviceExpiryMs: 300, startupGraceMs: 0, requestDeadlineMs: 30_000 });
    const worker = await new RawWorker(endpoint, 'brief').ready();
    await eventually(() => broker.snapshot().workers === 1);
    const client = new RawClient(endpoint);
    const inFlight = pollRequest(1);
    const queued = pollRequest(2);
    await client.send('brief', inFlight.bytes);
    await worker.nextRequest();
    await client.send('brief', queued.bytes);
    await eventually(() => broker.snapshot().queued === 1);
    await worker.socket.send([MDPW, byte(W.DISCONNECT)]);
    expect((await client.reply()).envelope).toMatchObject({ id: inFlight.id, body: { code: 'UNAVAILABLE', data: { reason: 'worker-died' } } });
    // Long before its 30 s deadline: the service is forgotten and the queued request answered.
    expect((await client.reply()).envelope).toMatchObject({ id: queued.id, body: { code: 'UNAVAILABLE', data: { reason: 'no-worker' } } });
    expect(count('forgotten:idle')).toBe(1);
    expect(broker.snapshot()).toMatchObject({ services: [], queued: 0 });
    const later = pollRequest(3);
    await client.send('brief', later.bytes);
    expect((await client.reply()).envelope).toMatchObject({ id: later.id, body: { code: 'UNKNOWN_SERVICE' } });
  });
});

describe('MajordomoBroker: expiry warnings', () => {
  it('says once that a dead server took its workers, not once per worker', async () => {
    const { endpoint, warnings, count } = await startBroker({ heartbeatIntervalMs: 100, liveness: 3 });
    // A server registers a worker per service and slot, then dies: none of them heartbeats again.
    const workers = ['chat', 'chat', 'chat', 'srv.s1', 'srv.s1', 'srv.s1'].map((service) => new RawWorker(endpoint, service));
    await Promise.all(workers.map((worker) => worker.ready()));
    await eventually(() => count('left:expired') === 6, 10_000);
    const lines = warnings.filter((warning) => /expired$/.test(warning.message));
    const total = lines.reduce((sum, line) => sum + ((line.details['workers'] as number | undefined) ?? 1), 0);
    expect(total).toBe(6);
    // Registered within a few ms, they expire within one housekeeping tick, or at worst a few.
    expect(lines.length).toBeLessThanOrEqual(3);
    const first = lines.find((line) => line.details['workers'] !== undefined);
    expect(first?.message).toMatch(/^\d workers expired$/);
    expect(Object.values(first?.details['services'] as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(first?.details['workers']);
  });
});

describe('MajordomoBroker: queue order', () => {
  /** Two workers of the idempotent service "safe", the first holding request a, the second b. */
  async function twoBusyWorkers(requestDeadlineMs: number) {
    const started = await startBroker({ idempotentServices: ['safe'], requestDeadlineMs });
    const { broker, endpoint } = started;
    const first = await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 1);
    const second = await new RawWorker(endpoint, 'safe').ready();
    await eventually(() => broker.snapshot().workers === 2);
    const client = new RawClient(endpoint);
    const [a, b] = [pollRequest(1), pollRequest(2)];
    await client.send('safe', a.bytes);
    await client.send('safe', b.bytes);
    // Least recently used first: the first worker to register gets a.
    const heldByFirst = await first.nextRequest();
    const heldBySecond = await second.nextRequest();
    expect([heldByFirst.envelope.id, heldBySecond.envelope.id]).toEqual([a.id, b.id]);
    return { ...started, first, second, client, a, b, heldBySecond };
  }

  it('a dead worker’s re-dispatched request waits ahead of newer ones', async () => {
    const { broker, first, second, client, a, b, heldBySecond } = await twoBusyWorkers(30_000);
    const c = pollRequest(3);
    await client.send('safe', c.bytes);
    await eventually(() => broker.snapshot().queued === 1);
    await first.socket.send([MDPW, byte(W.DISCONNECT)]);
    await eventually(() => broker.snapshot().queued === 2);
    await second.reply(heldBySecond.client, pollReply(heldBySecond.envelope));
    expect((await client.reply()).envelope.id).toBe(b.id);
    const next = await second.nextRequest();
    expect(next.envelope.id).toBe(a.id);
    await second.reply(next.client, pollReply(next.envelope));
    expect((await client.reply()).envelope.id).toBe(a.id);
    expect((await second.nextRequest()).envelope.id).toBe(c.id);
  });

  it('a re-dispatched request still waiting when its fresh deadline passes is answered TIMEOUT', async () => {
    const { broker, first, client, a } = await twoBusyWorkers(300);
    await first.socket.send([MDPW, byte(W.DISCONNECT)]);
    await eventually(() => broker.snapshot().queued === 1);
    expect((await client.reply()).envelope).toMatchObject({ id: a.id, body: { code: 'TIMEOUT', data: { reason: 'queue-deadline' } } });
    expect(broker.snapshot().queued).toBe(0);
  });
});
