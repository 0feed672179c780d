// ConfigFollower over real sockets: an in-process broker with a `config` worker that counts the
// requests it serves, and a PUB bound where the follower listens for config.changed. A change is
// applied once heard; a flood of forged events costs a bounded number of fetches.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFollower } from '@correio/config';
import type { BodyOf } from '@correio/protocol';
import { MajordomoBroker, Publisher, Worker } from '@correio/transport';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function setUp() {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-cfg', heartbeatIntervalMs: 200 });
  await broker.start();
  cleanups.push(() => broker.close());
  const endpoint = broker.endpoints[0]!;
  const service = { version: 1, document: '{"pageSize":10}', served: 0 };
  const worker = new Worker({
    endpoint,
    service: 'config',
    heartbeatInterval: 200,
    handler: (): BodyOf<'config.get.reply'> => {
      service.served++;
      return { program: 'server', version: 0, document: '{}', kind_version: service.version, effective: service.document };
    },
  }).start();
  cleanups.push(() => worker.stop());
  await waitUntil(() => broker.snapshot().workers >= 1, 'the config worker');
  const publisher = new Publisher({ from: 'forger' });
  const events = await publisher.bind('tcp://127.0.0.1:*');
  cleanups.push(() => publisher.close());
  return { endpoint, events, service, publisher };
}

describe('ConfigFollower', () => {
  it('fetches at start, fetches again once it hears of a change for its kind or itself, and a flood of events costs a few fetches, not one each', async () => {
    const { endpoint, events, service, publisher } = await setUp();
    const follower = new ConfigFollower({ program: 'server', instance: 'srv-1', broker: endpoint, events, checkIntervalMs: 60_000 });
    cleanups.push(() => follower.close());
    const initial = await follower.fetch();
    expect(initial).toMatchObject({ kindVersion: 1, settings: { pageSize: 10 } });
    follower.follow(initial);
    const changed = (version: number, instance?: string): BodyOf<'config.changed'> => ({ program: 'server', version, author: 'ana', at: 1, ...(instance ? { instance } : {}) });
    // Subscriptions take a moment to reach the PUB: publish until the follower has fetched again.
    service.version = 2;
    service.document = '{"pageSize":20}';
    const before = service.served;
    await waitUntil(() => {
      publisher.publish('config/server/', 'config.changed', changed(2));
      return service.served > before;
    }, 'a fetch set off by config.changed');
    // Events published while waiting may set off one more fetch: let them drain.
    await new Promise((resolve) => setTimeout(resolve, 400));
    // Another instance's change is not ours.
    const settled = service.served;
    for (let i = 0; i < 20; i++) publisher.publish('config/server/', 'config.changed', changed(3, 'srv-9'));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(service.served).toBe(settled);
    // 2,000 forged events in about a second: fetches spaced by at least 250 ms.
    const flooded = service.served;
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 100; j++) publisher.publish('config/server/', 'config.changed', changed(100 + i));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const seconds = (Date.now() - started) / 1000;
    expect(service.served - flooded).toBeGreaterThan(0);
    expect(service.served - flooded).toBeLessThanOrEqual(Math.ceil(seconds / 0.25) + 1);
  });

  it('says nothing is served at once through MMI when no worker serves config, and returns undefined', async () => {
    const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-empty', heartbeatIntervalMs: 200 });
    await broker.start();
    cleanups.push(() => broker.close());
    const follower = new ConfigFollower({ program: 'proxy', broker: broker.endpoints[0]!, timeoutMs: 10_000 });
    cleanups.push(() => follower.close());
    const started = Date.now();
    expect(await follower.fetch()).toBeUndefined();
    // Far under the 10 s request time-out: the broker's MMI answered 404.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
