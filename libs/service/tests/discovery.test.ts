import { describe, expect, it } from 'vitest';
import { PeerTable, type Announcement } from '@correio/service';

const announce = (instance: string, overrides: Partial<Announcement> = {}): Announcement => ({
  service: instance.split('-')[0]!,
  version: 1,
  instance,
  state: 'up',
  actions: [],
  events: [],
  ...overrides,
});

describe('PeerTable', () => {
  it('holds at most maxInstances: a new instance beyond it is ignored until one expires; known ones still refresh', () => {
    const table = new PeerTable(1_000, 3);
    for (let i = 0; i < 100; i++) table.apply(announce(`flood-${i}`), 0);
    expect(table.instances().map((info) => info.instance)).toEqual(['flood-0', 'flood-1', 'flood-2']);
    expect(table.apply(announce('flood-1', { actions: ['flood.x'] }), 500)).toMatchObject([{ kind: 'changed' }]);
    table.expire(1_200);
    expect(table.apply(announce('late-1'), 1_200)).toMatchObject([{ kind: 'up' }]);
    expect(table.instances().map((info) => info.instance)).toEqual(['flood-1', 'late-1']);
  });

  it('reports an instance up once, then refreshes it silently', () => {
    const table = new PeerTable(1_000);
    expect(table.apply(announce('a-1'), 0)).toMatchObject([{ kind: 'up', info: { instance: 'a-1', firstSeen: 0, lastSeen: 0 } }]);
    expect(table.apply(announce('a-1'), 500)).toEqual([]);
    expect(table.instances('a')[0]).toMatchObject({ firstSeen: 0, lastSeen: 500 });
  });

  it('reports a change of what an instance serves', () => {
    const table = new PeerTable(1_000);
    table.apply(announce('a-1', { actions: ['a.x'] }), 0);
    expect(table.apply(announce('a-1', { actions: ['a.y', 'a.x'] }), 1)).toMatchObject([
      { kind: 'changed', info: { actions: ['a.x', 'a.y'] }, previous: { actions: ['a.x'] } },
    ]);
  });

  it('marks down an instance that announces down, and one silent for longer than the TTL', () => {
    const table = new PeerTable(1_000);
    table.apply(announce('a-1'), 0);
    table.apply(announce('a-2'), 0);
    expect(table.apply(announce('a-1', { state: 'down' }), 10)).toMatchObject([{ kind: 'down', reason: 'announced', info: { instance: 'a-1' } }]);
    expect(table.apply(announce('a-1', { state: 'down' }), 11)).toEqual([]);
    expect(table.expire(1_000)).toEqual([]);
    expect(table.expire(1_001)).toMatchObject([{ kind: 'down', reason: 'expired', info: { instance: 'a-2' } }]);
    expect(table.instances()).toEqual([]);
    // An instance heard again after expiring is up again.
    expect(table.apply(announce('a-2'), 2_000)).toMatchObject([{ kind: 'up' }]);
  });

  it('answers which services handle an event and whether a service is up', () => {
    const table = new PeerTable(1_000);
    table.apply(announce('mail-1', { events: ['user.joined'] }), 0);
    table.apply(announce('mail-2', { events: ['user.joined'] }), 0);
    table.apply(announce('audit-1', { events: ['user.joined', 'user.left'] }), 0);
    table.apply(announce('web-1'), 0);
    expect(table.subscribers('user.joined')).toEqual(['audit', 'mail']);
    expect(table.subscribers('user.left')).toEqual(['audit']);
    expect(table.subscribers('nothing')).toEqual([]);
    expect(table.isUp('web')).toBe(true);
    expect(table.isUp('db')).toBe(false);
    expect(table.instances().map((i) => i.instance)).toEqual(['audit-1', 'mail-1', 'mail-2', 'web-1']);
  });

  it('on clear, reports only itself as stopped', () => {
    const table = new PeerTable(1_000);
    table.apply(announce('a-1'), 0);
    table.apply(announce('b-1'), 0);
    expect(table.clear('a-1', 5)).toMatchObject([{ kind: 'down', reason: 'stopped', info: { instance: 'a-1' } }]);
    expect(table.instances()).toEqual([]);
  });
});
