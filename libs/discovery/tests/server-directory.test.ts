import { describe, expect, it } from 'vitest';
import { MAX_SERVERS_FROM_EVENTS, ServerDirectory } from '@correio/discovery';
import type { RefServersReply } from '@correio/protocol';

type Listed = RefServersReply['servers'][number];
const listed = (server: string, rank: number, alive: boolean, last_heartbeat: number, endpoint?: string): Listed => ({
  server,
  rank,
  alive,
  last_heartbeat,
  ...(endpoint ? { endpoint } : {}),
});

function withList(servers: Listed[], coordinator?: string): ServerDirectory {
  const directory = new ServerDirectory();
  directory.applyList(directory.beginList(), { servers, ...(coordinator ? { coordinator } : {}) });
  return directory;
}

describe('ServerDirectory', () => {
  it('takes a list and reports every server as news, ordered by rank', () => {
    const directory = new ServerDirectory();
    const changes = directory.applyList(directory.beginList(), {
      servers: [listed('b', 2, false, 100), listed('a', 1, true, 200, 'tcp://10.0.0.1:5555')],
      coordinator: 'a',
    });
    expect(changes).toEqual([
      { server: 'a', rank: 1, state: 'up', source: 'list' },
      { server: 'b', rank: 2, state: 'down', source: 'list' },
    ]);
    expect(directory.servers.map((s) => s.server)).toEqual(['a', 'b']);
    expect(directory.live.map((s) => s.server)).toEqual(['a']);
    expect(directory.get('a')).toEqual({ server: 'a', rank: 1, alive: true, lastHeartbeat: 200, endpoint: 'tcp://10.0.0.1:5555' });
    expect(directory.coordinatorHint).toBe('a');
  });

  it('applies membership events, reporting only real changes', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    expect(directory.applyEvent({ server: 'a', rank: 1, state: 'up', at: 150 })).toEqual([]);
    expect(directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 400 })).toEqual([{ server: 'a', rank: 1, state: 'down', source: 'event' }]);
    expect(directory.applyEvent({ server: 'b', rank: 2, state: 'up', at: 410 })).toEqual([{ server: 'b', rank: 2, state: 'up', source: 'event' }]);
    expect(directory.applyEvent({ server: 'a', rank: 1, state: 'left', at: 900 })).toEqual([{ server: 'a', rank: 1, state: 'left', source: 'event' }]);
    expect(directory.servers.map((s) => [s.server, s.alive])).toEqual([['b', true]]);
  });

  it('keeps the endpoint a list gave when an event changes liveness', () => {
    const directory = withList([listed('a', 1, true, 100, 'tcp://a:1')]);
    directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 400 });
    expect(directory.get('a')).toMatchObject({ alive: false, endpoint: 'tcp://a:1', lastHeartbeat: 100 });
  });

  it('skips an event older than what it knows', () => {
    const directory = withList([listed('a', 1, true, 500)]);
    expect(directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 400 })).toEqual([]);
    expect(directory.get('a')?.alive).toBe(true);
  });

  it('a list is authoritative: servers missing from it have left', () => {
    const directory = withList([listed('a', 1, true, 100), listed('b', 2, true, 100)]);
    const changes = directory.applyList(directory.beginList(), { servers: [listed('b', 2, true, 300)] });
    expect(changes).toEqual([{ server: 'a', rank: 1, state: 'left', source: 'list' }]);
  });

  it('events that overtake a list in flight are replayed on top of it when newer', () => {
    const directory = withList([listed('a', 1, true, 100), listed('b', 2, true, 100)]);
    const token = directory.beginList();
    // While the request is in flight: a goes down (at 450), c comes up (at 460).
    directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 450 });
    directory.applyEvent({ server: 'c', rank: 3, state: 'up', at: 460 });
    // The list was computed before those events (a still alive, last heard at 300; no c).
    const changes = directory.applyList(token, { servers: [listed('a', 1, true, 300), listed('b', 2, true, 300)] });
    expect(changes).toEqual([]); // nothing changed relative to what the events had already shown
    expect(directory.servers.map((s) => [s.server, s.alive])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
    ]);
  });

  it('a list newer than an overtaking event wins over it', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    const token = directory.beginList();
    directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 450 });
    // The list reflects a heartbeat at 500, after the down event: a is back.
    const changes = directory.applyList(token, { servers: [listed('a', 1, true, 500)] });
    expect(changes).toEqual([{ server: 'a', rank: 1, state: 'up', source: 'list' }]);
  });

  it('forgets events once no list is in flight, and abandoning a list releases them', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    const token = directory.beginList();
    directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 450 });
    directory.abandonList(token);
    const later = directory.beginList();
    // The old event is not replayed onto a list that does not know a: a has left.
    const changes = directory.applyList(later, { servers: [] });
    expect(changes).toEqual([{ server: 'a', rank: 1, state: 'left', source: 'list' }]);
    expect(directory.servers).toEqual([]);
  });

  it('reports a rank change (a reference server that lost its data) as the server coming up anew', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    expect(directory.applyEvent({ server: 'a', rank: 7, state: 'up', at: 200 })).toEqual([{ server: 'a', rank: 7, state: 'up', source: 'event' }]);
  });
  it('counts as listed by the reference server only what its latest list named, never what events added', () => {
    const directory = withList([listed('a', 1, true, 100), listed('b', 2, false, 90)]);
    directory.applyEvent({ server: 'forged', rank: 9, state: 'up', at: 500 });
    expect(directory.servers.map((s) => s.server)).toContain('forged');
    expect([...directory.listedByRef].sort()).toEqual(['a', 'b']);
    directory.applyList(directory.beginList(), { servers: [listed('b', 2, true, 600)] });
    expect([...directory.listedByRef]).toEqual(['b']);
  });
});

describe('ServerDirectory bounds', () => {
  it('events naming ever new servers stop adding at MAX_SERVERS_FROM_EVENTS; known servers still change, and a list replaces all', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    for (let i = 0; i < MAX_SERVERS_FROM_EVENTS + 500; i++) directory.applyEvent({ server: `forged-${i}`, rank: 10 + i, state: 'up', at: 200 });
    expect(directory.servers).toHaveLength(MAX_SERVERS_FROM_EVENTS);
    expect(directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 300 })).toEqual([{ server: 'a', rank: 1, state: 'down', source: 'event' }]);
    directory.applyList(directory.beginList(), { servers: [listed('a', 1, true, 400), listed('b', 2, true, 400)] });
    expect(directory.servers.map((s) => s.server)).toEqual(['a', 'b']);
  });

  it('keeps at most 10000 events while a list is requested; past it abandons the request, and the next one merges as usual', () => {
    const directory = withList([listed('a', 1, true, 100)]);
    const token = directory.beginList();
    for (let i = 0; i < 10_000; i++) directory.applyEvent({ server: `forged-${i % 100}`, rank: 10 + (i % 100), state: 'up', at: 200 + i });
    expect(directory.loggedEvents).toBe(10_000);
    directory.applyEvent({ server: 'a', rank: 1, state: 'down', at: 20_000 });
    expect(directory.loggedEvents).toBe(0);
    const before = directory.servers;
    expect(() => directory.applyList(token, { servers: [listed('a', 1, true, 300)] })).toThrow(expect.objectContaining({ code: 'UNAVAILABLE', retryable: true }));
    expect(directory.servers).toEqual(before);
    // The next request keeps events again, and replays the newer one onto its list.
    const again = directory.beginList();
    directory.applyEvent({ server: 'a', rank: 1, state: 'up', at: 30_000 });
    expect(directory.loggedEvents).toBe(1);
    directory.applyList(again, { servers: [listed('a', 1, false, 300)] });
    expect(directory.servers).toEqual([expect.objectContaining({ server: 'a', alive: true, lastHeartbeat: 30_000 })]);
    expect(directory.loggedEvents).toBe(0);
  });

  it('takes a smaller bound', () => {
    const directory = new ServerDirectory({ maxLoggedEvents: 2 });
    const token = directory.beginList();
    for (let i = 0; i < 3; i++) directory.applyEvent({ server: 'a', rank: 1, state: 'up', at: i });
    expect(directory.loggedEvents).toBe(0);
    expect(() => directory.applyList(token, { servers: [] })).toThrow(/more than 2 membership events/);
  });
});
