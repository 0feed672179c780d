import { afterEach, describe, expect, it } from 'vitest';
import { Discovery, MEMBERSHIP_TOPIC } from '@correio/discovery';
import { createLogger, createMetrics } from '@correio/observability';
import type { RefHeartbeatReply, RefMembership, RefServersReply } from '@correio/protocol';
import { startRef, type RunningRef } from '@correio/ref';
import { RequestClient, Subscriber } from '@correio/transport';
import { waitFor } from '@correio/testing';
import { BROKER_HEARTBEAT_MS, startInfrastructure, tearDownTest, tempDataDir, type Infrastructure } from './support/infrastructure.js';

const HEARTBEAT_MS = 200;
const MISSES = 3;
const REMOVE_AFTER_MS = 1500;

let infra: Infrastructure | undefined;
let ref: RunningRef | undefined;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await ref?.close();
  ref = undefined;
  await tearDownTest();
});

/** Collects every ref.membership event published on the proxy. */
function watchMembership(subscribeEndpoint: string): RefMembership[] {
  const events: RefMembership[] = [];
  const subscriber = new Subscriber({ topics: [MEMBERSHIP_TOPIC] });
  subscriber.connect(subscribeEndpoint);
  const loop = (async () => {
    for await (const { envelope } of subscriber) if (envelope.type === 'ref.membership') events.push(envelope.body);
  })();
  closers.push(async () => {
    await subscriber.close();
    await loop;
  });
  return events;
}

async function startEverything(): Promise<{ events: RefMembership[]; client: RequestClient }> {
  infra = await startInfrastructure();
  ref = await startRef({
    broker: infra.broker,
    publishEndpoint: infra.publish,
    subscribeEndpoint: infra.subscribe,
    dataDir: tempDataDir(),
    heartbeatIntervalMs: HEARTBEAT_MS,
    misses: MISSES,
    removeAfterMs: REMOVE_AFTER_MS,
    workerHeartbeatIntervalMs: BROKER_HEARTBEAT_MS,
    http: { port: 0 },
    logger: createLogger('ref', { level: 'silent' }),
    metrics: createMetrics({ processMetrics: false }),
  });
  const events = watchMembership(infra.subscribe);
  const client = new RequestClient({ endpoint: infra.broker, from: 'membership-test', timeout: 2000, retries: 3, backoff: { initialMs: 20, maxMs: 100 } });
  closers.push(() => client.close());
  // Subscriptions reach the publisher asynchronously: register a probe until its `up` event shows up.
  await waitFor(() => {
    void client.request('ref', 'ref.register.request', { server: 'probe' }).catch(() => undefined);
    return events.some((event) => event.server === 'probe');
  }, 'the membership subscription', 15_000);
  return { events, client };
}

function discovery(server: string | undefined): Discovery {
  const d = new Discovery({ broker: infra!.broker, subscribeEndpoint: infra!.subscribe, ...(server ? { server } : {}), heartbeatIntervalMs: HEARTBEAT_MS, refreshIntervalMs: 1000 }).start();
  closers.push(() => d.stop());
  return d;
}

describe('reference server liveness and membership events (real sockets)', () => {
  it('marks a silent server down after the configured misses, publishes it, and brings it back up when it beats again', async () => {
    const { events, client } = await startEverything();
    const watcher = discovery(undefined);
    const server = new Discovery({ broker: infra!.broker, subscribeEndpoint: infra!.subscribe, server: 's1', endpoint: 'tcp://10.1.2.3:7000', http: 'http://10.1.2.3:9110', heartbeatIntervalMs: HEARTBEAT_MS }).start();
    const rank = await server.whenRegistered();
    expect(rank).toBe(2); // the probe got 1
    await waitFor(() => events.find((e) => e.server === 's1' && e.state === 'up'), 's1 up');
    // The event makes it alive at once; the next full list brings its endpoint.
    await waitFor(() => watcher.get('s1')?.endpoint, 'the watcher to list s1 with its endpoint');
    expect(watcher.get('s1')).toMatchObject({ rank: 2, alive: true, endpoint: 'tcp://10.1.2.3:7000', http: 'http://10.1.2.3:9110' });
    // The /health URL is listed for the server that gave one; the probe registered without one and has none.
    const listed = ((await client.request('ref', 'ref.servers.request', {})).body as RefServersReply).servers;
    expect(listed.find((s) => s.server === 's1')).toMatchObject({ endpoint: 'tcp://10.1.2.3:7000', http: 'http://10.1.2.3:9110' });
    expect(listed.find((s) => s.server === 'probe')).not.toHaveProperty('http');

    // Beating: never marked down over several liveness periods.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * MISSES * 3));
    expect(events.filter((e) => e.server === 's1' && e.state === 'down')).toEqual([]);

    // Silent: marked down once interval × misses have passed since the last heartbeat.
    await server.stop();
    const down = await waitFor(() => events.find((e) => e.server === 's1' && e.state === 'down'), 's1 down');
    const listing = ((await client.request('ref', 'ref.servers.request', {})).body as RefServersReply).servers.find((s) => s.server === 's1')!;
    expect(listing.alive).toBe(false);
    const silentFor = down.at - listing.last_heartbeat;
    // The registry measures silence on the monotonic clock; these two are whole wall-clock ms, so allow 1 ms of rounding.
    expect(silentFor).toBeGreaterThanOrEqual(HEARTBEAT_MS * MISSES - 1);
    expect(silentFor).toBeLessThan(HEARTBEAT_MS * MISSES + HEARTBEAT_MS / 4 + 1000); // one liveness check period, plus scheduling slack
    await waitFor(() => watcher.get('s1')?.alive === false || undefined, 'the watcher to see s1 down');

    // Beating again: up, same rank, no registration needed.
    const beat = (await client.request('ref', 'ref.heartbeat.request', { server: 's1', rank })).body as RefHeartbeatReply;
    expect(beat).toEqual({ alive: true, known: true });
    await waitFor(() => events.find((e) => e.server === 's1' && e.state === 'up' && e.at > down.at), 's1 up again');
    await waitFor(() => watcher.get('s1')?.alive, 'the watcher to see s1 up again');

    const metrics = await (await fetch(`${ref!.sidecar!.url}/metrics`)).text();
    expect(metrics).toMatch(/correio_ref_membership_events_total\{state="down"\} [1-9]/);
    const health = (await (await fetch(`${ref!.sidecar!.url}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ ready: true, broker: 'connected', nextRank: 3 });
  });

  it('tells unknown servers to register; a server down too long leaves the list and comes back with its rank', async () => {
    const { events, client } = await startEverything();
    const unknown = (await client.request('ref', 'ref.heartbeat.request', { server: 'stranger', rank: 9 })).body as RefHeartbeatReply;
    expect(unknown).toEqual({ alive: false, known: false });

    const first = discovery('s2');
    const rank = await first.whenRegistered();
    await first.stop();
    await waitFor(() => events.find((e) => e.server === 's2' && e.state === 'left'), 's2 left', HEARTBEAT_MS * MISSES + REMOVE_AFTER_MS + 5000);
    const listed = ((await client.request('ref', 'ref.servers.request', {})).body as RefServersReply).servers.map((s) => s.server);
    expect(listed).not.toContain('s2');
    expect(((await client.request('ref', 'ref.heartbeat.request', { server: 's2', rank })).body as RefHeartbeatReply).known).toBe(false);

    const again = discovery('s2');
    expect(await again.whenRegistered()).toBe(rank);
    // The event travels by pub/sub, the registration reply by request/reply: either may come first.
    const states = () => events.filter((e) => e.server === 's2').map((e) => e.state);
    await waitFor(() => states().length >= 4 || undefined, "s2's second up event");
    expect(states()).toEqual(['up', 'down', 'left', 'up']);
  });

  it('a discovery client registers again by itself when the reference server no longer knows it', async () => {
    const { client } = await startEverything();
    const server = discovery('s3');
    expect(await server.whenRegistered()).toBe(2);
    const registrations: number[] = [];
    server.events.on('registered', (event) => registrations.push(event.rank));
    // The reference server comes back without its data (a lost disk): every rank starts again from 1.
    await ref!.close();
    ref = await startRef({
      broker: infra!.broker,
      dataDir: tempDataDir(),
      heartbeatIntervalMs: HEARTBEAT_MS,
      misses: MISSES,
      workerHeartbeatIntervalMs: BROKER_HEARTBEAT_MS,
      logger: createLogger('ref', { level: 'silent' }),
      metrics: createMetrics({ processMetrics: false }),
    });
    for (const other of ['x', 'y']) await client.request('ref', 'ref.register.request', { server: other });
    // Its next heartbeat is answered known: false, and it registers again, under the new rank.
    await waitFor(() => registrations.length > 0 || undefined, 're-registration');
    expect(registrations).toEqual([3]);
    expect(server.rank).toBe(3);
  });

  it('reads the list again soon after an up event, so a restarted server\'s new direct endpoint is known at once (revision 1.8)', async () => {
    await startEverything();
    // Its own refresh is a minute away: only the up events can bring the addresses in time.
    const watcher = new Discovery({ broker: infra!.broker, subscribeEndpoint: infra!.subscribe, heartbeatIntervalMs: HEARTBEAT_MS, refreshIntervalMs: 60_000 }).start();
    closers.push(() => watcher.stop());
    await waitFor(() => watcher.get('probe'), 'the watcher\'s first list');
    const first = new Discovery({ broker: infra!.broker, subscribeEndpoint: infra!.subscribe, server: 's1', peer: 'tcp://127.0.0.1:5601', heartbeatIntervalMs: HEARTBEAT_MS }).start();
    await first.whenRegistered();
    await waitFor(() => watcher.get('s1')?.peer === 'tcp://127.0.0.1:5601', 'the watcher to learn s1\'s direct endpoint', 3_000);
    await first.stop();
    // Restarted on another port: the watcher follows within the throttle, not at its next refresh.
    const second = new Discovery({ broker: infra!.broker, subscribeEndpoint: infra!.subscribe, server: 's1', peer: 'tcp://127.0.0.1:5602', heartbeatIntervalMs: HEARTBEAT_MS }).start();
    closers.push(() => second.stop());
    await second.whenRegistered();
    await waitFor(() => watcher.get('s1')?.peer === 'tcp://127.0.0.1:5602', 'the watcher to learn s1\'s new direct endpoint', 3_000);
  });
});
