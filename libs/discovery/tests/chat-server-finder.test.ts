import type { AnyEnvelope, RefServersReply } from '@correio/protocol';
import { chatServerFinder } from '@correio/discovery';
import { describe, expect, it } from 'vitest';

type Listed = RefServersReply['servers'][number];

function server(id: string, alive = true): Listed {
  return { server: id, rank: Number(id.slice(1)), alive, peer: `tcp://127.0.0.1:${7000 + Number(id.slice(1))}` } as Listed;
}

/** The broker's side of `ref.servers.request`, answering with whatever `list` holds at the time. */
function brokerListing(list: () => Listed[]) {
  return { request: async () => ({ type: 'ref.servers.reply', body: { servers: list() } }) as unknown as AnyEnvelope };
}

describe('chatServerFinder', () => {
  it('with a key: every client picks the same server, whatever order the list comes in', async () => {
    const servers = ['s1', 's2', 's3', 's4', 's5'].map((id) => server(id));
    const chosen = new Set<string | undefined>();
    for (let i = 0; i < 10; i++) {
      const rotated = [...servers.slice(i % 5), ...servers.slice(0, i % 5)];
      const order = i < 5 ? rotated : rotated.reverse();
      chosen.add((await chatServerFinder(brokerListing(() => order), { key: 'general' })({})).server);
    }
    expect(chosen.size).toBe(1);
  });

  it('spreads different keys over the servers, and a server leaving moves only the keys it held', async () => {
    const all = ['s1', 's2', 's3'].map((id) => server(id));
    const keys = Array.from({ length: 300 }, (_, i) => `channel-${i}`);
    const owner = async (list: Listed[], key: string) => (await chatServerFinder(brokerListing(() => list), { key })({})).server!;
    const before = new Map<string, string>();
    for (const key of keys) before.set(key, await owner(all, key));
    const counts = [...before.values()].reduce((map, id) => map.set(id, (map.get(id) ?? 0) + 1), new Map<string, number>());
    for (const id of ['s1', 's2', 's3']) expect(counts.get(id)).toBeGreaterThan(60); // ~100 each
    const withoutS2 = all.filter((listed) => listed.server !== 's2');
    for (const key of keys) {
      const after = await owner(withoutS2, key);
      if (before.get(key) !== 's2') expect(after, key).toBe(before.get(key));
      else expect(after).not.toBe('s2');
    }
  });

  it('keeps its server while listed, leaves one that failed for the next by the key, and ignores servers not alive or without an endpoint', async () => {
    let list = ['s1', 's2', 's3'].map((id) => server(id));
    const find = chatServerFinder(brokerListing(() => list), { key: 'ops' });
    const first = (await find({})).server!;
    expect((await find({})).server).toBe(first);
    const second = (await find({ failed: first })).server!;
    expect(second).not.toBe(first);
    // Kept while listed, even after the first one is back.
    expect((await find({})).server).toBe(second);
    list = list.map((listed) => (listed.server === second ? { ...listed, alive: false } : listed));
    const third = (await find({})).server!;
    expect(third).not.toBe(second);
    list = [{ ...server('s9'), peer: undefined } as unknown as Listed];
    expect(await find({})).toEqual({});
  });

  it('without a key: one at random, another than the one that failed', async () => {
    const list = ['s1', 's2', 's3'].map((id) => server(id));
    expect((await chatServerFinder(brokerListing(() => list), { random: () => 0 })({})).server).toBe('s1');
    expect((await chatServerFinder(brokerListing(() => list), { random: () => 0.99 })({})).server).toBe('s3');
    expect((await chatServerFinder(brokerListing(() => list), { random: () => 0 })({ failed: 's1' })).server).toBe('s2');
  });
});
