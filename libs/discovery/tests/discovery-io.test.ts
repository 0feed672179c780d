import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, ServerNode, type MembershipChange } from '@correio/discovery';
import { BadRequestError } from '@correio/codec';
import type { ClockPollReply, ElectionElectionReply, ElectionElectionRequest } from '@correio/protocol';
import { MajordomoBroker, PubSubProxy, Publisher, RequestClient, Worker } from '@correio/transport';
import { FakeRef } from './support/FakeRef.js';

const HEARTBEAT_MS = 100;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function infrastructure() {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], heartbeatIntervalMs: 250, liveness: 3 });
  await broker.start();
  const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
  await proxy.start();
  const ref = new FakeRef(broker.endpoints[0]!, proxy.frontend).up();
  closers.push(async () => {
    await ref.close();
    await broker.close();
    await proxy.close();
  });
  const client = new RequestClient({ endpoint: broker.endpoints[0]!, from: 'test', timeout: 2000 });
  closers.push(() => client.close());
  return { broker: broker.endpoints[0]!, publish: proxy.frontend, subscribe: proxy.backend, ref, client };
}

function discovery(infra: { broker: string; subscribe: string }, server?: string): Discovery {
  const d = new Discovery({ broker: infra.broker, subscribeEndpoint: infra.subscribe, ...(server ? { server, endpoint: `tcp://${server}:1` } : {}), heartbeatIntervalMs: HEARTBEAT_MS, refreshIntervalMs: 500 });
  closers.push(() => d.stop());
  return d.start();
}

function node(infra: { broker: string; publish: string; subscribe: string }, server: string, leaseMs?: number): ServerNode {
  const n = new ServerNode({
    server,
    broker: infra.broker,
    publishEndpoint: infra.publish,
    subscribeEndpoint: infra.subscribe,
    heartbeatIntervalMs: HEARTBEAT_MS,
    refMisses: 3,
    ...(leaseMs !== undefined ? { leaseMs } : {}),
    electionTimeoutMs: 300,
    refreshIntervalMs: 500,
    workerHeartbeatIntervalMs: 250,
  });
  closers.push(() => n.stop());
  return n;
}

describe('Discovery over a real broker and proxy', () => {
  it('registers, heartbeats every interval, and lists servers with their endpoints', async () => {
    const infra = await infrastructure();
    const d = discovery(infra, 'n1');
    expect(await d.whenRegistered()).toBe(1);
    await waitFor(() => infra.ref.heartbeats.length >= 5, 'five heartbeats');
    expect(infra.ref.heartbeats.every((beat) => beat.server === 'n1' && beat.rank === 1)).toBe(true);
    await waitFor(() => d.get('n1')?.endpoint, 'the list');
    expect(d.servers).toEqual([{ server: 'n1', rank: 1, alive: true, lastHeartbeat: expect.any(Number), endpoint: 'tcp://n1:1' }]);
    expect(d.refAvailable).toBe(true);
  });

  it('follows membership events, and re-reads the list when the event stream restarts', async () => {
    const infra = await infrastructure();
    const watcher = discovery(infra);
    const changes: MembershipChange[] = [];
    watcher.events.on('membership', (change) => changes.push(change));
    // Events sent before the subscription reached the publisher are lost (no replay): repeat until seen.
    await waitFor(() => {
      infra.ref.publish({ server: 'x', rank: 4, state: 'up', at: Date.now() });
      return watcher.get('x');
    }, 'the first event');
    expect(changes[0]).toEqual({ server: 'x', rank: 4, state: 'up', source: 'event' });
    infra.ref.publish({ server: 'x', rank: 4, state: 'down', at: Date.now() + 1 });
    await waitFor(() => watcher.get('x')?.alive === false, 'x down');
    expect(changes.at(-1)).toEqual({ server: 'x', rank: 4, state: 'down', source: 'event' });

    // A reference server that restarted publishes a new stream from sequence 1 under the same id.
    const lists = infra.ref.lists;
    const restarted = new Publisher({ from: 'fake-ref', publisherId: 'same-id' });
    closers.push(() => restarted.close());
    restarted.connect(infra.publish);
    const first = new Publisher({ from: 'fake-ref', publisherId: 'same-id' });
    closers.push(() => first.close());
    first.connect(infra.publish);
    await waitFor(() => {
      first.publish('ref/membership/', 'ref.membership', { server: 'y', rank: 5, state: 'up', at: Date.now() });
      return watcher.get('y');
    }, 'the first stream');
    const before = infra.ref.lists;
    restarted.publish('ref/membership/', 'ref.membership', { server: 'z', rank: 6, state: 'up', at: Date.now() });
    await waitFor(() => infra.ref.lists > before && infra.ref.lists > lists, 'a re-read after the stream reset', 3000);
  });

  it('keeps the cached list while the reference server is down, and picks up again when it returns', async () => {
    const infra = await infrastructure();
    const d = discovery(infra, 'n1');
    await d.whenRegistered();
    await waitFor(() => d.get('n1'), 'the list');
    const cached = d.servers;
    const availability: boolean[] = [];
    d.events.on('ref', ({ available }) => availability.push(available));
    await infra.ref.down();
    await waitFor(() => d.refAvailable === false, 'the outage to be noticed');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(d.servers).toEqual(cached);
    infra.ref.up();
    await waitFor(() => d.refAvailable === true, 'the reference server to be back');
    expect(availability).toEqual([false, true]);
    expect(d.rank).toBe(1);
  });

  it('registers again when a heartbeat is answered known: false', async () => {
    const infra = await infrastructure();
    const d = discovery(infra, 'n1');
    await d.whenRegistered();
    const registered: number[] = [];
    d.events.on('registered', ({ rank }) => registered.push(rank));
    infra.ref.forgotten.add('n1');
    await waitFor(() => registered.length > 0, 're-registration');
    expect(registered).toEqual([1]);
  });
});

describe('ServerNode over a real broker and proxy', () => {
  it('serves srv.<id>: election requests built in, plugged handlers, and BAD_REQUEST for the rest', async () => {
    const infra = await infrastructure();
    for (const other of ['p', 'q', 'r', 's']) infra.ref.ranks.set(other, infra.ref.ranks.size + 1);
    const n = node(infra, 'n1');
    n.handle('clock.poll.request', (request) => ({ round: (request.body as { round: number }).round, time: 42 }));
    // Registration order: four servers were registered before, so this one gets rank 5.
    expect(await n.start()).toBe(5);
    const ask = async (rank: number) =>
      (await infra.client.request('srv.n1', 'election.election.request', { server: 'cand', rank, term: 1 })).body as ElectionElectionReply;
    expect(await ask(2)).toEqual({ server: 'n1', rank: 5, ok: true });
    expect(await ask(9)).toEqual({ server: 'n1', rank: 5, ok: false });
    const poll = await infra.client.request('srv.n1', 'clock.poll.request', { round: 3 });
    expect(poll.body as ClockPollReply).toEqual({ round: 3, time: 42 });
    await expect(infra.client.request('srv.n1', 'replica.digest.request', {})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('a lone server coordinates; it stops acting when its lease lapses and acts again once heartbeats are acknowledged', async () => {
    const infra = await infrastructure();
    const n = node(infra, 'n1');
    const roles: boolean[] = [];
    n.events.on('role', ({ state }) => roles.push(state.acting));
    await n.start();
    await waitFor(() => n.isCoordinator, 'coordination');
    await infra.ref.down();
    const lapsedBy = Date.now() + 3 * HEARTBEAT_MS;
    await waitFor(() => !n.isCoordinator, 'the lease to lapse', 5000);
    expect(Date.now()).toBeLessThanOrEqual(lapsedBy + 1000);
    infra.ref.up();
    await waitFor(() => n.isCoordinator, 'coordination again');
    expect(roles).toEqual([true, false, true]);
  });

  it('a server the reference server forgot stops acting at once, registers again, and resumes', async () => {
    const infra = await infrastructure();
    const n = node(infra, 'n1', 60_000); // a long lease: only the revocation can end it quickly
    await n.start();
    await waitFor(() => n.isCoordinator, 'coordination');
    const acting: boolean[] = [];
    n.events.on('role', ({ state }) => acting.push(state.acting));
    infra.ref.forgotten.add('n1');
    await waitFor(() => acting.includes(false), 'the step down', 3000);
    await waitFor(() => n.isCoordinator, 'coordination after registering again');
  });

  it('two servers: the higher coordinates; when the reference server reports it down, the lower takes over', async () => {
    const infra = await infrastructure();
    const low = node(infra, 'low');
    const high = node(infra, 'high');
    expect(await low.start()).toBe(1);
    expect(await high.start()).toBe(2);
    await waitFor(() => high.isCoordinator && low.coordinator?.server === 'high' && !low.isCoordinator, 'high to coordinate');
    await waitFor(() => low.liveServers.length === 2, 'low to list both');
    expect(low.liveServers.map((s) => s.server)).toEqual(['low', 'high']);
    await high.stop();
    infra.ref.publish({ server: 'high', rank: 2, state: 'down', at: Date.now() });
    await waitFor(() => low.isCoordinator, 'low to take over', 5000);
    expect(low.coordinator).toMatchObject({ server: 'low', rank: 1 });
    expect(low.term).toBeGreaterThan(1);
  });
});

describe('ServerNode inside a host that serves srv.<id> itself (worker: false)', () => {
  /** A node without a worker, and the host's own srv.<id> worker that hands election requests to it. */
  function hosted(infra: { broker: string; publish: string; subscribe: string }, server: string) {
    const n = new ServerNode({
      server,
      worker: false,
      broker: infra.broker,
      publishEndpoint: infra.publish,
      subscribeEndpoint: infra.subscribe,
      heartbeatIntervalMs: HEARTBEAT_MS,
      refMisses: 3,
      electionTimeoutMs: 300,
      refreshIntervalMs: 500,
    });
    const worker = new Worker({
      endpoint: infra.broker,
      service: `srv.${server}`,
      from: server,
      heartbeatInterval: 250,
      handler: (request, context) => {
        if (request.type === 'election.election.request') return n.answerElection(request.body as ElectionElectionRequest, context.signal);
        if (request.type === 'clock.poll.request') return { round: (request.body as { round: number }).round, time: 7 };
        throw new BadRequestError(`srv.${server} does not serve ${request.type}`);
      },
    });
    closers.push(async () => {
      await n.stop();
      await worker.stop({ drainTimeout: 0 });
    });
    return { node: n, worker };
  }

  it('opens no srv.<id> worker of its own; the host answers elections with answerElection() and the election runs through it', async () => {
    const infra = await infrastructure();
    const low = hosted(infra, 'low');
    const high = hosted(infra, 'high');
    expect(() => low.node.handle('clock.poll.request', () => ({ round: 1, time: 1 }))).toThrow(/worker: false/);
    expect(low.node.workerStats).toBeUndefined();
    // Before it has a rank, answerElection refuses with a retryable UNAVAILABLE, as the built-in worker does.
    await expect(low.node.answerElection({ server: 'x', rank: 1, term: 1 })).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true });

    expect(await low.node.start()).toBe(1);
    // The node registered and joined, but nothing serves srv.low: the broker does not know it.
    const [unknown] = await infra.client.requestRaw('mmi.service', ['srv.low']);
    expect(Buffer.from(unknown!).toString()).toBe('404');

    low.worker.start();
    high.worker.start();
    expect(await high.node.start()).toBe(2);
    await waitFor(() => high.node.isCoordinator && low.node.coordinator?.server === 'high' && !low.node.isCoordinator, 'high to coordinate');
    const ask = async (server: string, rank: number) =>
      (await infra.client.request(`srv.${server}`, 'election.election.request', { server: 'cand', rank, term: 1 })).body as ElectionElectionReply;
    expect(await ask('high', 1)).toEqual({ server: 'high', rank: 2, ok: true });
    expect(await ask('low', 5)).toEqual({ server: 'low', rank: 1, ok: false });
    // Every srv.<id> request went through the host's workers: the only ones the process has.
    expect(high.worker.stats.requests).toBeGreaterThanOrEqual(1);
    expect(low.worker.stats.requests).toBeGreaterThanOrEqual(1);

    // The takeover works through the host's workers too: high leaves, low takes over.
    await high.node.stop();
    infra.ref.publish({ server: 'high', rank: 2, state: 'down', at: Date.now() });
    await waitFor(() => low.node.isCoordinator, 'low to take over', 5000);
  });
});

describe('a reference server under another broker service name (refService)', () => {
  it('registers, heartbeats and lists through that service', async () => {
    const infra = await infrastructure();
    const other = new FakeRef(infra.broker, infra.publish, 'ref.b').up();
    closers.push(() => other.close());
    const d = new Discovery({ broker: infra.broker, refService: 'ref.b', server: 'n1', heartbeatIntervalMs: HEARTBEAT_MS, refreshIntervalMs: 500 });
    closers.push(() => d.stop());
    d.start();
    expect(await d.whenRegistered()).toBe(1);
    await waitFor(() => other.heartbeats.length >= 2 && other.lists >= 1, 'heartbeats and a list on ref.b');
    expect(infra.ref.ranks.size).toBe(0); // the one on `ref` heard nothing
    await waitFor(() => d.get('n1'), 'the list');
  });
});
