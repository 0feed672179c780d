import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryRegistryStore, ServerRegistry, type Instant, type RegistrySnapshot, type RegistryStore } from '@correio/ref';

const I = 100;
const at = (ms: number): Instant => ({ mono: ms, wall: 1_700_000_000_000 + ms });

function registry(store: RegistryStore = new InMemoryRegistryStore(), now = at(0), removeAfterMs = 0): ServerRegistry {
  return new ServerRegistry({ store, heartbeatIntervalMs: I, misses: 3, removeAfterMs }, now);
}

describe('ServerRegistry: ranks', () => {
  it('issues ranks 1, 2, 3… on first contact and the same rank again to the same server', () => {
    const r = registry();
    expect(r.register('a', {}, at(0)).rank).toBe(1);
    expect(r.register('b', { endpoint: 'tcp://b:1' }, at(1)).rank).toBe(2);
    expect(r.register('a', {}, at(2))).toMatchObject({ rank: 1, created: false });
    expect(r.register('c', {}, at(3))).toMatchObject({ rank: 3, created: true });
  });

  it('saves a new rank before returning it, and keeps ranks across restarts', () => {
    const store = new InMemoryRegistryStore();
    const first = registry(store);
    first.register('a', {}, at(0));
    expect(store.load()?.servers.map((s) => [s.server, s.rank])).toEqual([['a', 1]]);
    first.register('b', {}, at(0));
    const second = registry(store, at(10_000));
    expect(second.register('b', {}, at(10_000)).rank).toBe(2);
    expect(second.register('c', {}, at(10_001)).rank).toBe(3);
  });

  it('does not write for a plain re-registration, but does for a new endpoint', () => {
    const store = new InMemoryRegistryStore();
    const r = registry(store);
    r.register('a', { endpoint: 'tcp://a:1' }, at(0));
    r.register('a', { endpoint: 'tcp://a:1' }, at(1));
    r.register('a', {}, at(2));
    expect(store.saves).toBe(1);
    r.register('a', { endpoint: 'tcp://a:2' }, at(3));
    expect(store.saves).toBe(2);
    expect(r.list()[0]?.endpoint).toBe('tcp://a:2');
  });

  it('keeps the /health URL a server registers, writes when it changes, and lists it', () => {
    const store = new InMemoryRegistryStore();
    const r = registry(store);
    r.register('a', { endpoint: 'tcp://a:1', http: 'http://127.0.0.1:9101' }, at(0));
    r.register('a', {}, at(1));
    expect(store.saves).toBe(1);
    expect(r.list()[0]).toMatchObject({ endpoint: 'tcp://a:1', http: 'http://127.0.0.1:9101' });
    r.register('a', { http: 'http://127.0.0.1:9102' }, at(2));
    expect(store.saves).toBe(2);
    expect(store.load()?.servers[0]).toMatchObject({ endpoint: 'tcp://a:1', http: 'http://127.0.0.1:9102' });
    expect(registry(store, at(3)).list()[0]?.http).toBe('http://127.0.0.1:9102');
    r.register('b', {}, at(4));
    expect(r.list()[1]).not.toHaveProperty('http');
  });

  it('lists the direct peer endpoint of the latest registration only: one without it has none (revision 1.8)', () => {
    const store = new InMemoryRegistryStore();
    const r = registry(store);
    r.register('a', { endpoint: 'tcp://a:1', peer: 'tcp://a:5601' }, at(0));
    r.register('a', { peer: 'tcp://a:5601' }, at(1));
    expect(store.saves).toBe(1);
    expect(r.list()[0]).toMatchObject({ endpoint: 'tcp://a:1', peer: 'tcp://a:5601' });
    expect(registry(store, at(2)).list()[0]?.peer).toBe('tcp://a:5601');
    // Restarted on another port: the new one.
    r.register('a', { peer: 'tcp://a:5602' }, at(3));
    expect(r.list()[0]?.peer).toBe('tcp://a:5602');
    // Restarted without a direct endpoint: none, where the other addresses are kept.
    r.register('a', {}, at(4));
    expect(store.saves).toBe(3);
    expect(r.list()[0]).toMatchObject({ endpoint: 'tcp://a:1' });
    expect(r.list()[0]).not.toHaveProperty('peer');
    expect(store.load()?.servers[0]).not.toHaveProperty('peer');
  });

  it('a failing store issues nothing and changes nothing', () => {
    const store = new InMemoryRegistryStore();
    let failing = false;
    const flaky: RegistryStore = {
      load: () => store.load(),
      save: (snapshot) => {
        if (failing) throw new Error('disk full');
        store.save(snapshot);
      },
    };
    const r = registry(flaky);
    r.register('a', {}, at(0));
    failing = true;
    expect(() => r.register('b', {}, at(1))).toThrow('disk full');
    expect(r.list().map((s) => s.server)).toEqual(['a']);
    failing = false;
    expect(r.register('c', {}, at(2)).rank).toBe(2); // rank 2 was never issued, so it is free
    expect(r.register('b', {}, at(3)).rank).toBe(3);
  });

  it('refuses new servers when the list is full', () => {
    const r = new ServerRegistry({ store: new InMemoryRegistryStore(), heartbeatIntervalMs: I, misses: 3, maxListed: 2 }, at(0));
    r.register('a', {}, at(0));
    r.register('b', {}, at(0));
    expect(() => r.register('c', {}, at(0))).toThrow(expect.objectContaining({ code: 'OVERLOADED' }));
    expect(r.register('a', {}, at(1)).rank).toBe(1);
  });

  it('never issues a rank twice, whatever the sequence of registrations, crashes and store failures', () => {
    type Step = { kind: 'register'; server: number } | { kind: 'restart' } | { kind: 'fail-next' };
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('register' as const), server: fc.integer({ min: 0, max: 12 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail-next' as const) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps: Step[]) => {
        const disk = new InMemoryRegistryStore();
        const crash = new Error('crash during the write');
        let failNext = false;
        const store: RegistryStore = {
          load: () => disk.load(),
          save: (snapshot: RegistrySnapshot) => {
            if (failNext) {
              failNext = false;
              throw crash;
            }
            disk.save(snapshot);
          },
        };
        let r = registry(store);
        const issued = new Map<string, number>(); // every rank ever returned to a server
        let time = 0;
        for (const s of steps) {
          time += 1;
          if (s.kind === 'restart') r = registry(store, at(time));
          else if (s.kind === 'fail-next') failNext = true;
          else {
            const server = `s${s.server}`;
            let rank: number;
            try {
              rank = r.register(server, {}, at(time)).rank;
            } catch (error) {
              // Only the injected crash may stop a registration, and a new server it stopped was not listed.
              expect(error).toBe(crash);
              if (!issued.has(server)) expect(r.list().map((listed) => listed.server)).not.toContain(server);
              continue;
            }
            if (issued.has(server)) expect(rank).toBe(issued.get(server));
            issued.set(server, rank);
          }
        }
        const ranks = [...issued.values()];
        expect(new Set(ranks).size).toBe(ranks.length);
        // Everything issued is durable.
        const stored = new Map(disk.load()?.servers.map((s) => [s.server, s.rank]) ?? []);
        for (const [server, rank] of issued) expect(stored.get(server)).toBe(rank);
      }),
      { numRuns: 300 },
    );
  });
});

describe('ServerRegistry: liveness', () => {
  it('marks a server down after more than interval × misses without a heartbeat, and up when it beats again', () => {
    const r = registry();
    expect(r.register('a', {}, at(0)).events).toEqual([{ server: 'a', rank: 1, state: 'up', at: at(0).wall }]);
    expect(r.heartbeat('a', 1, at(250))).toEqual({ alive: true, known: true, events: [] });
    expect(r.tick(at(550)).events).toEqual([]);
    expect(r.tick(at(551)).events).toEqual([{ server: 'a', rank: 1, state: 'down', at: at(551).wall }]);
    expect(r.list()).toEqual([{ server: 'a', rank: 1, alive: false, last_heartbeat: at(250).wall }]);
    expect(r.tick(at(900)).events).toEqual([]); // reported once
    expect(r.heartbeat('a', 1, at(1000))).toEqual({ alive: true, known: true, events: [{ server: 'a', rank: 1, state: 'up', at: at(1000).wall }] });
  });

  it('tells unknown servers, and servers with another rank, to register again', () => {
    const r = registry();
    r.register('a', {}, at(0));
    expect(r.heartbeat('b', 1, at(1))).toEqual({ alive: false, known: false, events: [] });
    expect(r.heartbeat('a', 2, at(1))).toEqual({ alive: false, known: false, events: [] });
  });

  it('a server down for removeAfterMs leaves the list, durably, and keeps its rank when it registers again', () => {
    const store = new InMemoryRegistryStore();
    const r = registry(store, at(0), 1000);
    r.register('a', {}, at(0));
    r.register('b', {}, at(0));
    expect(r.tick(at(301)).events.map((e) => [e.server, e.state])).toEqual([
      ['a', 'down'],
      ['b', 'down'],
    ]);
    r.heartbeat('b', 2, at(1200)); // b comes back; a stays silent
    expect(r.tick(at(1300)).events).toEqual([]);
    expect(r.tick(at(1301)).events).toEqual([{ server: 'a', rank: 1, state: 'left', at: at(1301).wall }]);
    expect(r.list().map((s) => s.server)).toEqual(['b']);
    expect(store.load()?.servers.find((s) => s.server === 'a')?.listed).toBe(false);
    expect(r.heartbeat('a', 1, at(1400)).known).toBe(false);
    expect(r.register('a', {}, at(1500)).rank).toBe(1);
    expect(r.register('c', {}, at(1500)).rank).toBe(3);
  });

  it('after a restart, listed servers are presumed alive for one liveness period, then marked down if silent', () => {
    const store = new InMemoryRegistryStore();
    const before = registry(store);
    before.register('a', {}, at(0));
    before.register('b', {}, at(0));
    before.heartbeat('a', 1, at(90));
    before.checkpoint();
    const after = registry(store, at(5000));
    expect(after.list()).toEqual([
      { server: 'a', rank: 1, alive: true, last_heartbeat: at(90).wall },
      { server: 'b', rank: 2, alive: true, last_heartbeat: at(0).wall },
    ]);
    after.heartbeat('a', 1, at(5200));
    expect(after.tick(at(5301)).events).toEqual([{ server: 'b', rank: 2, state: 'down', at: at(5301).wall }]);
  });
});
