// Direct routing to the task coordinator (protocol revision 1.9) over real sockets: a Correio broker
// whose `tasks` worker plays the coordinator's broker side (it answers tasks.route.request with
// whatever endpoint the test names), and two ServiceEndpoints that serve `tasks` while the test says
// they coordinate. Every request must be answered whichever way it goes; the test reads where.
import { BadRequestError } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { TaskClient } from '@correio/tasks';
import { waitFor } from '@correio/testing';
import { MajordomoBroker, RequestClient, ServiceEndpoint, Worker, type RequestHandler } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { coordinatorRoute } from '../src/CoordinatorRoute.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

interface Fake {
  readonly broker: string;
  /** Who served each tasks.unschedule.request, in order: 'broker', 'e1' or 'e2'. */
  readonly servedBy: string[];
  /** What tasks.route.request answers through the broker; a string is an error code to answer instead. */
  route: { coordinator: string; endpoint?: string } | 'VALIDATION';
  routeAsked: number;
}

/** tasks.unschedule answered `removed: true`, noting who served it; tasks.route refused (only the broker's worker knows it). */
function tasksHandler(fake: Fake, name: string, hold?: () => Promise<void>): RequestHandler {
  return async (request: AnyEnvelope, context) => {
    expect(context.service).toBe('tasks');
    if (request.type !== 'tasks.unschedule.request') throw new BadRequestError(`unexpected ${request.type}`);
    await hold?.();
    fake.servedBy.push(name);
    return { removed: true };
  };
}

async function fakeCoordinator(): Promise<Fake> {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-route', heartbeatIntervalMs: 200 });
  await broker.start();
  cleanup.push(() => broker.close());
  const fake: Fake = { broker: broker.endpoints[0]!, servedBy: [], route: { coordinator: 'none' }, routeAsked: 0 };
  const unschedule = tasksHandler(fake, 'broker');
  const worker = new Worker({
    endpoint: fake.broker,
    service: 'tasks',
    concurrency: 4,
    heartbeatInterval: 200,
    handler: (request, context) => {
      if (request.type !== 'tasks.route.request') return unschedule(request, context);
      fake.routeAsked += 1;
      if (fake.route === 'VALIDATION') throw new BadRequestError('unknown message type tasks.route.request');
      return fake.route;
    },
  }).start();
  cleanup.push(() => worker.stop());
  return fake;
}

/** A server's direct endpoint: `srv.<name>` always (refused here), `tasks` while `coordinates()`. */
async function directEndpoint(fake: Fake, name: string, coordinates: () => boolean, options: { concurrency?: number; hold?: () => Promise<void> } = {}): Promise<string> {
  const tasks = tasksHandler(fake, name, options.hold);
  const endpoint = new ServiceEndpoint({
    service: `srv.${name}`,
    handler: () => {
      throw new BadRequestError('not in this test');
    },
    also: (service) => (service === 'tasks' && coordinates() ? tasks : undefined),
    drainTimeout: 100,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  cleanup.push(() => endpoint.stop());
  const address = await endpoint.bind('tcp://127.0.0.1:*');
  endpoint.start();
  return address;
}

function taskClient(fake: Fake, timeoutMs = 10_000): TaskClient {
  const client = new TaskClient({ broker: fake.broker, timeoutMs });
  cleanup.push(() => client.close());
  return client;
}

/** Sends requests until one is served by `name` (the link is up), and returns how many it took. */
async function untilServedBy(client: TaskClient, fake: Fake, name: string): Promise<number> {
  let sent = 0;
  await waitFor(async () => {
    sent += 1;
    expect(await client.unschedule('x')).toBe(true);
    return fake.servedBy.at(-1) === name;
  }, `a request served by ${name}`, 10_000, 10);
  return sent;
}

describe('TaskClient routing to the coordinator (revision 1.9)', () => {
  it('goes straight to the coordinator once the route is known, and back through the broker (asking again) when that server stops coordinating', async () => {
    const fake = await fakeCoordinator();
    let coordinator = 'e1';
    const e1 = await directEndpoint(fake, 'e1', () => coordinator === 'e1');
    const e2 = await directEndpoint(fake, 'e2', () => coordinator === 'e2');
    fake.route = { coordinator: 'e1', endpoint: e1 };
    const client = taskClient(fake);

    // The first request goes through the broker while the route is asked, in the background.
    expect(await client.unschedule('x')).toBe(true);
    expect(fake.servedBy).toEqual(['broker']);
    await untilServedBy(client, fake, 'e1');
    fake.servedBy.length = 0;
    for (let i = 0; i < 20; i++) expect(await client.unschedule('x')).toBe(true);
    expect(fake.servedBy).toEqual(Array(20).fill('e1'));
    expect(client.route).toMatchObject({ server: 'e1', endpoint: e1, misdirected: 0, links: 1 });
    expect(client.route!.direct).toBeGreaterThanOrEqual(20);

    // e1 hands the queue to e2: its endpoint answers `tasks` UNKNOWN_SERVICE, the same request goes through the broker.
    coordinator = 'e2';
    fake.route = { coordinator: 'e2', endpoint: e2 };
    fake.servedBy.length = 0;
    expect(await client.unschedule('x')).toBe(true);
    expect(fake.servedBy).toEqual(['broker']);
    expect(client.route!.misdirected).toBe(1);
    await untilServedBy(client, fake, 'e2');
    expect(client.route).toMatchObject({ server: 'e2', endpoint: e2, misdirected: 1 });

    // e2 stops coordinating for a moment and resumes: the endpoint it refused from is used again once it names it anew.
    coordinator = 'none';
    fake.servedBy.length = 0;
    expect(await client.unschedule('x')).toBe(true);
    expect(fake.servedBy).toEqual(['broker']);
    expect(client.route!.misdirected).toBe(2);
    coordinator = 'e2';
    await untilServedBy(client, fake, 'e2');
    expect(client.route).toMatchObject({ server: 'e2', endpoint: e2, links: 1 });
  });

  it('sends a request the direct endpoint is too busy for (OVERLOADED) through the broker at once', async () => {
    const fake = await fakeCoordinator();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    let entered = false;
    const hold = () => {
      if (!holding) return Promise.resolve();
      entered = true;
      return held;
    };
    const e1 = await directEndpoint(fake, 'e1', () => true, { concurrency: 1, hold });
    fake.route = { coordinator: 'e1', endpoint: e1 };
    const client = taskClient(fake);
    await untilServedBy(client, fake, 'e1');
    holding = true;
    const first = client.unschedule('held');
    await waitFor(() => entered, 'the first request to be held on e1');
    fake.servedBy.length = 0;
    expect(await client.unschedule('second')).toBe(true);
    expect(fake.servedBy).toEqual(['broker']);
    expect(client.route!.overflowed).toBe(1);
    holding = false;
    release();
    expect(await first).toBe(true);
    expect(fake.servedBy).toEqual(['broker', 'e1']);
  });

  it('goes back to the broker when the coordinator stops answering on a connection that is up (a stalled server)', async () => {
    const fake = await fakeCoordinator();
    let stalled = false;
    const never = new Promise<void>(() => undefined);
    const e1 = await directEndpoint(fake, 'e1', () => true, { hold: () => (stalled ? never : Promise.resolve()) });
    fake.route = { coordinator: 'e1', endpoint: e1 };
    const client = taskClient(fake, 15_000);
    await untilServedBy(client, fake, 'e1');
    // The broker has meanwhile moved the queue to a server without a direct endpoint.
    stalled = true;
    fake.route = { coordinator: 'e2' };
    fake.servedBy.length = 0;
    const began = performance.now();
    expect(await client.unschedule('x')).toBe(true);
    // One request time-out (no long poll: 5 s of slack), then the broker.
    expect(performance.now() - began).toBeGreaterThanOrEqual(4_900);
    expect(fake.servedBy).toEqual(['broker']);
    await waitFor(() => client.route?.server === 'e2', 'the route asked again');
    expect(client.route!.endpoint).toBeUndefined();
    for (let i = 0; i < 5; i++) await client.unschedule('x');
    expect(fake.servedBy).toEqual(Array(6).fill('broker'));
  }, 30_000);

  it('works through the broker alone with a server that does not know tasks.route (before 1.9), asking once', async () => {
    const fake = await fakeCoordinator();
    fake.route = 'VALIDATION';
    const client = taskClient(fake);
    for (let i = 0; i < 30; i++) expect(await client.unschedule('x')).toBe(true);
    expect(fake.servedBy).toEqual(Array(30).fill('broker'));
    expect(fake.routeAsked).toBe(1);
    expect(client.route).toMatchObject({ asked: 1, direct: 0, viaBroker: 30, links: 0 });
    const off = new TaskClient({ broker: fake.broker, direct: false });
    cleanup.push(() => off.close());
    expect(await off.unschedule('x')).toBe(true);
    expect(off.route).toBeUndefined();
    expect(fake.routeAsked).toBe(1);
  });

  it('never uses a loopback or ipc:// endpoint when the broker is on another machine (the address would name the client\'s own)', async () => {
    const fake = await fakeCoordinator();
    const e1 = await directEndpoint(fake, 'e1', () => true);
    fake.route = { coordinator: 'e1', endpoint: e1 };
    const broker = new RequestClient({ endpoint: fake.broker, timeout: 5_000 });
    cleanup.push(() => broker.close());
    const remote = coordinatorRoute({ broker, brokerEndpoints: ['tcp://192.0.2.10:5555'] });
    cleanup.push(() => remote.close());
    const local = coordinatorRoute({ broker, brokerEndpoints: [fake.broker] });
    cleanup.push(() => local.close());
    for (const route of [remote, local]) await route.request('tasks.unschedule.request', { name: 'x' }, { timeout: 5_000 });
    await waitFor(() => remote.stats.server === 'e1' && local.stats.endpoint === e1, 'both routes');
    expect(remote.stats.endpoint).toBeUndefined();
    await waitFor(async () => {
      await local.request('tasks.unschedule.request', { name: 'x' }, { timeout: 5_000 });
      return fake.servedBy.at(-1) === 'e1';
    }, 'the local route to go direct');
    fake.servedBy.length = 0;
    for (let i = 0; i < 5; i++) await remote.request('tasks.unschedule.request', { name: 'x' }, { timeout: 5_000 });
    expect(fake.servedBy).toEqual(Array(5).fill('broker'));
    expect(remote.stats).toMatchObject({ direct: 0, links: 0 });
  });
});
