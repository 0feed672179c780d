// Replicas converge only if applying is a function of the set of operations: the real ChatStore,
// fed any permutation, duplication and batching of one set (every kind, ties in the HLC, request
// ids shared by several operations), must end in the same state — digest, histories, channels,
// users, conversations, the request-id winners — and pass its own verification.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Operation } from '@correio/protocol';
import { ChatStore, type OrderKey } from '@correio/server';

const root = mkdtempSync(join(tmpdir(), 'correio-apply-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let opened = 0;

/** A store in a fresh directory. Without fsync: these tests are about what apply computes, not durability. */
async function withStore<T>(use: (store: ChatStore) => Promise<T>): Promise<T> {
  const path = join(root, `s${opened++}`);
  const store = ChatStore.open({ path, unsafeNoSync: true });
  try {
    return await use(store);
  } finally {
    await store.close();
    rmSync(path, { recursive: true, force: true });
  }
}

const ORIGINS = ['s1', 's2', 's3'] as const;
const USERS = ['ana', 'bia', 'caio'] as const;
const CHANNELS = ['general', 'random'] as const;
const RIDS = ['rid-a', 'rid-b', 'rid-c'] as const;

type Draft = { origin: string; wall: number; logical: number; lc: number; rid: string | undefined; kind: Operation['kind']; data: Record<string, string> };

/** An operation of any kind; walls and logical parts from tiny ranges, so equal HLCs (ties broken by origin, seq) are common. */
const draft: fc.Arbitrary<Draft> = fc.record({
  origin: fc.constantFrom(...ORIGINS),
  wall: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_003 }),
  logical: fc.integer({ min: 0, max: 1 }),
  lc: fc.integer({ min: 1, max: 50 }),
  rid: fc.option(fc.constantFrom(...RIDS), { nil: undefined, freq: 2 }),
  payload: fc.oneof(
    fc.record({ kind: fc.constant('login' as const), data: fc.record({ user: fc.constantFrom(...USERS) }) }),
    fc.record({ kind: fc.constant('channel.create' as const), data: fc.record({ user: fc.constantFrom(...USERS), channel: fc.constantFrom(...CHANNELS) }) }),
    fc.record({ kind: fc.constant('publish' as const), data: fc.record({ user: fc.constantFrom(...USERS), channel: fc.constantFrom(...CHANNELS), text: fc.constantFrom('hi', 'hello', 'olá') }) }),
    fc.record({ kind: fc.constant('direct' as const), data: fc.record({ user: fc.constantFrom(...USERS), to: fc.constantFrom(...USERS), text: fc.constantFrom('psst', 'hey') }) }),
  ),
}).map(({ payload, ...rest }) => ({ ...rest, kind: payload.kind, data: payload.data as Record<string, string> }));

/** Numbers each origin's drafts 1, 2, 3…: a valid operation set, as origins issue them. */
function operations(drafts: readonly Draft[]): Operation[] {
  const next = new Map<string, number>();
  return drafts.map(({ origin, wall, logical, lc, rid, kind, data }) => {
    const seq = (next.get(origin) ?? 0) + 1;
    next.set(origin, seq);
    return { op: { origin, seq }, lc, hlc: [wall, logical], kind, data, ...(rid === undefined ? {} : { rid }) } as unknown as Operation;
  });
}

/** Everything a reader (or a peer) can observe of a store. */
async function snapshot(store: ChatStore) {
  const histories: Record<string, unknown[]> = {};
  for (const channel of CHANNELS) histories[channel] = everyPage((before) => store.history(channel, 2, before));
  const conversations: Record<string, unknown[]> = {};
  for (const a of USERS) for (const b of USERS) if (a <= b) conversations[`${a}/${b}`] = everyPage((before) => store.conversation(a, b, 2, before));
  const winners: Record<string, unknown> = {};
  // The operation a retry of each request id gets back (nothing is committed: the builder declines).
  for (const rid of RIDS) winners[rid] = (await store.commitLocal('probe', rid, () => undefined))?.op.op;
  return {
    digest: store.digest(),
    clocks: store.clocks(),
    users: store.users(500).items,
    channels: store.channels(500).items,
    histories,
    conversations,
    winners,
    verify: store.verify(),
  };
}

/** Pages of two, newest page first, as a client pages back: the page boundaries must match too. */
function everyPage<T>(page: (before: OrderKey | undefined) => { items: T[]; next?: OrderKey | string }): T[][] {
  const pages: T[][] = [];
  let before: OrderKey | undefined;
  for (let i = 0; i < 1_000; i++) {
    const { items, next } = page(before);
    pages.push(items);
    if (next === undefined) return pages;
    before = next as OrderKey;
  }
  throw new Error('paging did not end');
}

describe('ChatStore.apply is a function of the set of operations', () => {
  it('yields the same state for any permutation, duplication and batching, with every kind and shared request ids', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(draft, { minLength: 1, maxLength: 14 }).chain((drafts) => {
          const ops = operations(drafts);
          return fc.record({
            ops: fc.constant(ops),
            order: fc.shuffledSubarray(ops, { minLength: ops.length, maxLength: ops.length }),
            duplicates: fc.array(fc.nat(ops.length - 1), { maxLength: 5 }),
            cuts: fc.array(fc.nat(ops.length + 5), { maxLength: 4 }),
          });
        }),
        async ({ ops, order, duplicates, cuts }) => {
          const expected = await withStore(async (store) => {
            await store.apply(ops);
            return snapshot(store);
          });
          expect(expected.verify).toEqual({ ok: true, ops: ops.length });
          const sequence = [...order];
          for (const [i, at] of duplicates.entries()) sequence.splice((at + i) % (sequence.length + 1), 0, ops[at]!);
          // The same sequence cut into batches (one transaction each) at random points.
          const bounds = [...new Set([0, ...cuts.map((c) => c % (sequence.length + 1)), sequence.length])].sort((a, b) => a - b);
          const actual = await withStore(async (store) => {
            for (let i = 1; i < bounds.length; i++) await store.apply(sequence.slice(bounds[i - 1], bounds[i]));
            return snapshot(store);
          });
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 120 },
    );
  }, 120_000);

  it('shows exactly one operation per request id, the earliest, whichever arrives first', async () => {
    const retriedOnTwoServers = operations([
      { origin: 's1', wall: 1_000, logical: 0, lc: 1, rid: undefined, kind: 'login', data: { user: 'ana' } },
      { origin: 's1', wall: 1_001, logical: 0, lc: 2, rid: undefined, kind: 'channel.create', data: { user: 'ana', channel: 'general' } },
      // One client request (rid-x), committed on s1 and, after a lost reply, again on s2.
      { origin: 's1', wall: 1_005, logical: 0, lc: 3, rid: 'rid-x', kind: 'publish', data: { user: 'ana', channel: 'general', text: 'once' } },
      { origin: 's2', wall: 1_005, logical: 0, lc: 3, rid: 'rid-x', kind: 'publish', data: { user: 'ana', channel: 'general', text: 'once' } },
      // A login retried on two servers: both count for last_seen, whichever order they arrive in.
      { origin: 's2', wall: 1_007, logical: 0, lc: 4, rid: 'rid-y', kind: 'login', data: { user: 'bia' } },
      { origin: 's3', wall: 1_009, logical: 0, lc: 5, rid: 'rid-y', kind: 'login', data: { user: 'bia' } },
    ]);
    for (const order of [retriedOnTwoServers, [...retriedOnTwoServers].reverse()]) {
      await withStore(async (store) => {
        for (const op of order) await store.apply([op]);
        expect(store.history('general', 10).items.map((p) => `${p.op.origin}:${p.op.seq} ${p.text}`)).toEqual(['s1:3 once']);
        expect(store.user('bia')).toMatchObject({ first_seen: 1_007, last_seen: 1_009 });
        expect(store.verify()).toEqual({ ok: true, ops: 6 });
      });
    }
  });
});
