// The broker with the transport's own MDP peers: RequestClient and Worker from @correio/transport.
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError, UnknownServiceError } from '@correio/codec';
import { MajordomoBroker, RequestClient, Worker } from '@correio/transport';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(options: { startupGraceMs?: number } = {}) {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-t', heartbeatIntervalMs: 200, ...options });
  await broker.start();
  cleanups.push(() => broker.close());
  const endpoint = broker.endpoints[0]!;
  const client = new RequestClient({ endpoint, timeout: 5_000 });
  cleanups.push(() => client.close());
  return { broker, endpoint, client };
}

function clockWorker(endpoint: string, from: string, concurrency = 1): Worker {
  const worker = new Worker({
    endpoint,
    service: 'clock',
    from,
    concurrency,
    heartbeatInterval: 200,
    handler: (request) => ({ round: (request.body as { round: number }).round, time: Date.now() }),
  }).start();
  cleanups.push(() => worker.stop());
  return worker;
}

describe('MajordomoBroker with @correio/transport peers', () => {
  it('serves RequestClient requests through Worker connections, spread over workers', async () => {
    const { broker, endpoint, client } = await setUp();
    clockWorker(endpoint, 'worker-a', 2);
    clockWorker(endpoint, 'worker-b', 2);
    for (let i = 0; i < 100 && broker.snapshot().workers < 4; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const replies = await Promise.all(Array.from({ length: 200 }, (_, round) => client.request('clock', 'clock.poll.request', { round })));
    expect(replies.map((reply) => (reply.body as { round: number }).round)).toEqual(Array.from({ length: 200 }, (_, round) => round));
    const servers = new Set(replies.map((reply) => reply.from));
    expect(servers).toEqual(new Set(['worker-a', 'worker-b']));
    expect(replies.every((reply) => reply.type === 'clock.poll.reply')).toBe(true);
  });

  it('surfaces the broker’s own errors as typed errors', async () => {
    const { client } = await setUp({ startupGraceMs: 0 });
    await expect(client.request('nobody', 'clock.poll.request', { round: 1 })).rejects.toBeInstanceOf(UnknownServiceError);
  });

  it('answers MMI through requestRaw', async () => {
    const { broker, endpoint, client } = await setUp();
    clockWorker(endpoint, 'worker-a');
    for (let i = 0; i < 100 && broker.snapshot().workers < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await client.requestRaw('mmi.service', ['clock'])).map(String)).toEqual(['200']);
    expect((await client.requestRaw('mmi.service', ['nothing'])).map(String)).toEqual(['404']);
  });

  it('tells a waiting client UNAVAILABLE when the broker shuts down', async () => {
    const { broker, client } = await setUp();
    const pending = client.request('clock', 'clock.poll.request', { round: 1 });
    for (let i = 0; i < 100 && broker.snapshot().queued < 1; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await broker.close();
    await expect(pending).rejects.toBeInstanceOf(UnavailableError);
  });
});
