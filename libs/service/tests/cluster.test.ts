// Two services (alpha, beta) × two instances each, every instance a child process; the broker,
// the proxy and a probe service run in the test process. Everything goes over real TCP sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorreioError } from '@correio/codec';
import { ServiceClient, createService, defineService, type Service, type ServiceInstanceInfo } from '@correio/service';
import { ChildService, Infrastructure, eventually, scratchDir } from './support.js';

type HookRecord = { hook: 'connect' } | { hook: 'up'; instance: string } | { hook: 'down'; instance: string; reason: string };

describe('a cluster of two services with two instances each', () => {
  let infra: Infrastructure;
  let scratch: ReturnType<typeof scratchDir>;
  let probe: Service;
  const hooks: HookRecord[] = [];
  const children = new Map<string, ChildService>();
  let client: ServiceClient;

  const child = (instance: string) => children.get(instance)!;
  const eventRecords = (instance: string) => child(instance).records().filter((r) => r['kind'] === 'event');

  beforeAll(async () => {
    infra = await Infrastructure.start();
    scratch = scratchDir();
    probe = createService({
      name: 'probe',
      handlers: defineService({}),
      broker: infra.brokerEndpoint,
      proxy: infra.proxyEndpoints,
      discovery: { interval: 200, liveness: 3 },
      heartbeat: { interval: 250 },
      hooks: {
        onConnect: () => void hooks.push({ hook: 'connect' }),
        onServiceUp: (info: ServiceInstanceInfo) => void hooks.push({ hook: 'up', instance: info.instance }),
        onServiceDown: (info: ServiceInstanceInfo, reason) => void hooks.push({ hook: 'down', instance: info.instance, reason }),
      },
    });
    await probe.start();
    const spawned = await Promise.all(
      ['alpha-1', 'alpha-2', 'beta-1', 'beta-2'].map((instance) =>
        ChildService.spawn({ name: instance.split('-')[0]!, instance, infra, dir: scratch.dir }),
      ),
    );
    for (const service of spawned) children.set(service.instance, service);
    await probe.waitFor(['alpha', 'beta'], { timeout: 10_000 });
    await eventually(() => probe.discovery.instances().length === 5, 10_000, 'all five instances discovered');
    client = new ServiceClient({ broker: infra.brokerEndpoint, timeout: 2_000 });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all([...children.values()].map((service) => service.stop()));
    await probe?.stop();
    await infra?.close();
    scratch?.remove();
  }, 60_000);

  it('load-balances calls over both instances of a service', async () => {
    const served = new Set<string>();
    for (let round = 0; round < 10 && served.size < 2; round++) {
      const batch = await Promise.all(Array.from({ length: 8 }, () => client.call('alpha.whoami')));
      for (const instance of batch) served.add(instance as string);
    }
    expect([...served].sort()).toEqual(['alpha-1', 'alpha-2']);
  });

  it('delivers an emitted event to exactly one instance of each subscribing service', async () => {
    const tags = Array.from({ length: 10 }, (_, i) => `emit-${i}`);
    for (const tag of tags) {
      const report = await probe.emit('thing.happened', { tag });
      expect(report.delivered).toEqual(['alpha', 'beta']);
      expect(report.failed).toEqual([]);
    }
    // The handler has run before the emit is acknowledged, so the records are complete now.
    for (const tag of tags) {
      for (const group of ['alpha', 'beta']) {
        const receivers = [`${group}-1`, `${group}-2`].filter((instance) => eventRecords(instance).some((r) => r['tag'] === tag));
        expect(receivers, `${tag} in ${group}`).toHaveLength(1);
      }
    }
    const record = eventRecords('alpha-1').concat(eventRecords('alpha-2')).find((r) => r['tag'] === 'emit-0');
    expect(record).toMatchObject({ delivery: 'emit', sender: probe.identity.instance });
  });

  it('delivers a broadcast to every instance, and a group broadcast to that group only', async () => {
    await probe.broadcast('thing.happened', { tag: 'to-beta' }, { group: 'beta' });
    await probe.broadcast('thing.happened', { tag: 'to-all' });
    const all = ['alpha-1', 'alpha-2', 'beta-1', 'beta-2'];
    await eventually(() => all.every((instance) => eventRecords(instance).some((r) => r['tag'] === 'to-all')), 10_000, 'broadcast everywhere');
    // Same publisher, same topic: 'to-beta' was delivered before 'to-all' everywhere, so its absence is final.
    for (const instance of all) {
      const got = eventRecords(instance).some((r) => r['tag'] === 'to-beta');
      expect(got, instance).toBe(instance.startsWith('beta'));
    }
    expect(eventRecords('alpha-1').find((r) => r['tag'] === 'to-all')).toMatchObject({ delivery: 'broadcast' });
    expect(probe.health().missedPublications).toBe(0);
  });

  it('fires onConnect first, then onServiceUp for every instance', () => {
    expect(hooks[0]).toEqual({ hook: 'connect' });
    const up = hooks.filter((h) => h.hook === 'up').map((h) => (h as { instance: string }).instance);
    expect(up.sort()).toEqual(['alpha-1', 'alpha-2', 'beta-1', 'beta-2', probe.identity.instance].sort());
    // Each child saw its own connect before any of its service hooks.
    for (const service of children.values()) {
      const own = service.records().filter((r) => r['kind'] === 'hook');
      expect(own[0]).toMatchObject({ hook: 'connect' });
    }
  });

  it('keeps answering when an instance is SIGKILLed mid-load: results or retryable errors, nothing hangs', async () => {
    const retrying = new ServiceClient({ broker: infra.brokerEndpoint, timeout: 1_500, retries: 4, backoff: { initial: 50, max: 400 } });
    const total = 120;
    const outcomes: ({ ok: true; instance: string } | { ok: false; error: unknown })[] = [];
    let next = 0;
    let killed: Promise<unknown> | undefined;
    const lane = async () => {
      while (next < total) {
        next++;
        if (next === 30) killed = child('alpha-2').kill();
        try {
          outcomes.push({ ok: true, instance: (await retrying.call('alpha.slow', { ms: 20 })) as string });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, lane));
    let hung: NodeJS.Timeout | undefined;
    const finished = await Promise.race([load.then(() => true), new Promise<false>((resolve) => (hung = setTimeout(() => resolve(false), 90_000)))]);
    clearTimeout(hung);
    await retrying.close();
    expect(finished, 'every call settled').toBe(true);
    await killed;
    expect(outcomes).toHaveLength(total);
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        expect(outcome.error).toBeInstanceOf(CorreioError);
        expect((outcome.error as CorreioError).retryable).toBe(true);
      }
    }
    const served = outcomes.filter((o): o is { ok: true; instance: string } => o.ok);
    expect(served.length).toBeGreaterThan(total / 2);
    expect(served.slice(-10).every((o) => o.instance === 'alpha-1')).toBe(true);

    // The silent instance expires from the registry, after its onServiceUp.
    await eventually(() => hooks.some((h) => h.hook === 'down' && h.instance === 'alpha-2'), 10_000, 'alpha-2 marked down');
    expect(hooks.find((h) => h.hook === 'down' && h.instance === 'alpha-2')).toEqual({ hook: 'down', instance: 'alpha-2', reason: 'expired' });
    const upAt = hooks.findIndex((h) => h.hook === 'up' && h.instance === 'alpha-2');
    const downAt = hooks.findIndex((h) => h.hook === 'down' && h.instance === 'alpha-2');
    expect(upAt).toBeGreaterThanOrEqual(0);
    expect(downAt).toBeGreaterThan(upAt);
    expect(probe.discovery.instances('alpha').map((i) => i.instance)).toEqual(['alpha-1']);
  }, 120_000);

  it('announces down on a graceful stop, and the survivor keeps serving', async () => {
    await child('beta-2').stop();
    expect(await child('beta-2').exited).toBe(0);
    await eventually(() => hooks.some((h) => h.hook === 'down' && h.instance === 'beta-2'), 10_000, 'beta-2 down');
    expect(hooks.find((h) => h.hook === 'down' && h.instance === 'beta-2')).toEqual({ hook: 'down', instance: 'beta-2', reason: 'announced' });
    // The other instances heard it too.
    await eventually(() => child('beta-1').records().some((r) => r['hook'] === 'down' && r['instance'] === 'beta-2'), 10_000, 'beta-1 saw beta-2 leave');
    const report = await probe.emit('thing.happened', { tag: 'after-stop' });
    expect(report.delivered).toEqual(['alpha', 'beta']);
    expect(eventRecords('beta-1').some((r) => r['tag'] === 'after-stop')).toBe(true);
  }, 30_000);
});
