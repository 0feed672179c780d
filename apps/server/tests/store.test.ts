import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { open, type Database } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import { ChatStore, StoreDamagedError, StoreMismatchError, encodeCursor, type OrderKey } from '@correio/server';

const dirs: string[] = [];
const stores: ChatStore[] = [];

function openStore(): ChatStore {
  const dir = mkdtempSync(join(tmpdir(), 'correio-store-'));
  dirs.push(dir);
  const store = ChatStore.open({ path: dir });
  stores.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

let wall = 1_700_000_000_000;
function op(origin: string, seq: number, kind: Operation['kind'], data: Record<string, string>, rid?: string): Operation {
  wall += 1;
  return { op: { origin, seq }, lc: seq, hlc: [wall, 0], kind, data, ...(rid ? { rid } : {}) } as unknown as Operation;
}

describe('ChatStore', () => {
  it('commits local operations with consecutive sequence numbers and answers queries', async () => {
    const store = openStore();
    const login = (await store.commitLocal('s1', 'r1', (seq) => op('s1', seq, 'login', { user: 'ana' }, 'r1')))!;
    const create = (await store.commitLocal('s1', 'r2', (seq) => op('s1', seq, 'channel.create', { user: 'ana', channel: 'general' }, 'r2')))!;
    for (let i = 0; i < 5; i++) {
      await store.commitLocal('s1', `p${i}`, (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'general', text: `hello ${i}` }, `p${i}`));
    }
    expect(login.op.op).toEqual({ origin: 's1', seq: 1 });
    expect(create.op.op).toEqual({ origin: 's1', seq: 2 });
    expect(store.highWaterMark('s1')).toBe(7);
    expect(store.user('ana')?.user).toBe('ana');
    expect(store.channel('general')?.created_by).toBe('ana');

    const last3 = store.history('general', 3);
    expect(last3.items.map((p) => p.text)).toEqual(['hello 2', 'hello 3', 'hello 4']);
    const older = store.history('general', 3, last3.next as never);
    expect(older.items.map((p) => p.text)).toEqual(['hello 0', 'hello 1']);
    expect(older.next).toBeUndefined();
  });

  it('returns the earlier operation for a retried request id instead of storing it twice', async () => {
    const store = openStore();
    const first = (await store.commitLocal('s1', 'same', (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'c', text: 'once' }, 'same')))!;
    const retry = (await store.commitLocal('s1', 'same', (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'c', text: 'once' }, 'same')))!;
    expect(retry.duplicate).toBe(true);
    expect(retry.op).toEqual(first.op);
    expect(store.history('c', 10).items).toHaveLength(1);
    expect(store.digest().ops).toBe(1);
  });

  it('tracks contiguous high-water marks across gaps', async () => {
    const store = openStore();
    await store.apply([op('s2', 1, 'login', { user: 'bob' }), op('s2', 3, 'login', { user: 'bob' })]);
    expect(store.highWaterMark('s2')).toBe(1);
    await store.apply([op('s2', 2, 'login', { user: 'bob' })]);
    expect(store.highWaterMark('s2')).toBe(3);
    expect(store.opsFrom('s2', 2, 10).map((o) => o.op.seq)).toEqual([2, 3]);
  });

  it('keeps direct messages of both directions in one conversation', async () => {
    const store = openStore();
    await store.apply([
      op('s1', 1, 'direct', { user: 'ana', to: 'bob', text: 'hi bob' }),
      op('s2', 1, 'direct', { user: 'bob', to: 'ana', text: 'hi ana' }),
    ]);
    expect(store.conversation('bob', 'ana', 10).items.map((d) => d.text)).toEqual(['hi bob', 'hi ana']);
  });

  it("keeps each user's inbox: the direct messages sent to them, from anyone, in order, by page", async () => {
    const store = openStore();
    await store.apply([
      op('s1', 1, 'direct', { user: 'ana', to: 'bob', text: 'ana 1' }),
      op('s2', 1, 'direct', { user: 'bob', to: 'ana', text: 'to ana' }),
      op('s2', 2, 'direct', { user: 'cy', to: 'bob', text: 'cy 1' }),
      op('s1', 2, 'direct', { user: 'ana', to: 'bob', text: 'ana 2' }),
    ]);
    const latest = store.inbox('bob', 2);
    expect(latest.items.map((d) => d.text)).toEqual(['cy 1', 'ana 2']);
    expect(store.inbox('bob', 2, latest.next as OrderKey).items.map((d) => d.text)).toEqual(['ana 1']);
    expect(store.inbox('ana', 10).items.map((d) => [d.from, d.text])).toEqual([['bob', 'to ana']]);
    expect(store.inbox('cy', 10).items).toEqual([]);
    expect(store.verify()).toEqual({ ok: true, ops: 4 });
  });

  it('survives reopening: everything committed is there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'correio-store-'));
    dirs.push(dir);
    const store = ChatStore.open({ path: dir });
    await store.commitLocal('s1', 'a', (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'c', text: 'kept' }, 'a'));
    const before = store.digest();
    await store.close();
    const reopened = ChatStore.open({ path: dir });
    stores.push(reopened);
    expect(reopened.digest()).toEqual(before);
    expect(reopened.verify()).toEqual({ ok: true, ops: 1 });
  });

  it('converges to the same state for any permutation and duplication of a set of operations', async () => {
    const base: Operation[] = [
      op('s1', 1, 'login', { user: 'ana' }),
      op('s1', 2, 'channel.create', { user: 'ana', channel: 'general' }),
      op('s2', 1, 'channel.create', { user: 'bob', channel: 'general' }),
      op('s1', 3, 'publish', { user: 'ana', channel: 'general', text: 'one' }, 'rid-x'),
      op('s2', 2, 'publish', { user: 'ana', channel: 'general', text: 'one' }, 'rid-x'),
      op('s2', 3, 'publish', { user: 'bob', channel: 'general', text: 'two' }),
      op('s3', 1, 'direct', { user: 'bob', to: 'ana', text: 'psst' }),
      op('s3', 2, 'login', { user: 'bob' }),
    ];
    const reference = openStore();
    await reference.apply(base);
    const expected = snapshot(reference);
    expect(expected.history).toEqual(['one', 'two']);
    expect(expected.channel?.created_by).toBe('ana');

    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray(base, { minLength: base.length }), fc.array(fc.nat(base.length - 1), { maxLength: 6 }), async (order, dups) => {
        const store = openStore();
        const sequence = [...order, ...dups.map((i) => base[i]!)];
        for (const item of sequence) await store.apply([item]);
        expect(snapshot(store)).toEqual(expected);
        await store.close();
        stores.splice(stores.indexOf(store), 1);
      }),
      { numRuns: 25 },
    );
  });
});

function snapshot(store: ChatStore) {
  return {
    digest: store.digest(),
    history: store.history('general', 50).items.map((p) => p.text),
    channel: store.channel('general'),
    users: store.users(50).items,
    conversation: store.conversation('ana', 'bob', 50).items,
    inbox: store.inbox('ana', 50).items,
  };
}

describe('ChatStore durability guards and checks', () => {
  async function tamper(dir: string, change: (dbs: { meta: Database; publications: Database; users: Database; ops: Database; inbox: Database }) => void): Promise<void> {
    const env = open({ path: dir, compression: false, overlappingSync: false, maxDbs: 16 });
    change({
      inbox: env.openDB({ name: 'inbox' }),
      meta: env.openDB({ name: 'meta' }),
      publications: env.openDB({ name: 'publications' }),
      users: env.openDB({ name: 'users' }),
      ops: env.openDB({ name: 'ops', encoding: 'binary' }),
    });
    await env.flushed;
    await env.close();
  }

  async function populated(): Promise<{ dir: string; store: ChatStore }> {
    const dir = mkdtempSync(join(tmpdir(), 'correio-store-'));
    dirs.push(dir);
    const store = ChatStore.open({ path: dir });
    await store.claim('s1');
    await store.commitLocal('s1', 'l', (seq) => op('s1', seq, 'login', { user: 'ana' }, 'l'));
    await store.commitLocal('s1', 'c', (seq) => op('s1', seq, 'channel.create', { user: 'ana', channel: 'general' }, 'c'));
    for (let i = 0; i < 3; i++) await store.commitLocal('s1', `p${i}`, (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'general', text: `hello ${i}` }, `p${i}`));
    return { dir, store };
  }

  async function verifyAfter(change: Parameters<typeof tamper>[1]): Promise<string | undefined> {
    const { dir, store } = await populated();
    expect(store.verify()).toEqual({ ok: true, ops: 5 });
    await store.close();
    await tamper(dir, change);
    const reopened = ChatStore.open({ path: dir });
    stores.push(reopened);
    return reopened.verify().problem;
  }

  it('verify() finds a missing index entry, a wrong high-water mark, a stray entry and a lost operation', async () => {
    await expect(verifyAfter(({ publications }) => void publications.removeSync(Array.from(publications.getKeys())[0]!))).resolves.toMatch(/missing from the history of general/);
    await expect(verifyAfter(({ meta }) => void meta.putSync(['hwm', 's1'], 9))).resolves.toMatch(/high-water mark of s1 is 9, but the log holds 1..5/);
    await expect(verifyAfter(({ publications }) => void publications.putSync(['general', 1, 0, 'zz', 1], { stray: true }))).resolves.toMatch(/holds 4 publications, the log explains 3/);
    await expect(verifyAfter(({ ops }) => void ops.removeSync(['s1', 3]))).resolves.toMatch(/digest mismatch/);
    await expect(verifyAfter(({ users }) => void users.removeSync('ana'))).resolves.toMatch(/user ana is not indexed/);
    await expect(verifyAfter(({ ops }) => void ops.putSync(['s1', 2], encode({ op: { origin: 's1', seq: 2 }, lc: 1, hlc: [1, 0], kind: 'teleport', data: {} })))).resolves.toMatch(/does not match the operation schema/);
  });

  it('builds the inbox once for a store made before it existed, from the conversations', async () => {
    const { dir, store } = await populated();
    await store.commitLocal('s1', 'd1', (seq) => op('s1', seq, 'direct', { user: 'ana', to: 'bob', text: 'one' }, 'd1'));
    await store.commitLocal('s1', 'd2', (seq) => op('s1', seq, 'direct', { user: 'bob', to: 'ana', text: 'two' }, 'd2'));
    await store.close();
    // As a store of revision 1.1 left it: no inbox, no flag.
    await tamper(dir, ({ inbox, meta }) => {
      for (const key of Array.from(inbox.getKeys())) inbox.removeSync(key);
      meta.removeSync('inbox');
    });
    const old = ChatStore.open({ path: dir });
    stores.push(old);
    expect(old.verify().problem).toMatch(/the direct message is missing from the inbox of bob/);
    await old.claim('s1');
    expect(old.verify()).toEqual({ ok: true, ops: 7 });
    expect(old.inbox('bob', 10).items.map((d) => d.text)).toEqual(['one']);
    expect(old.inbox('ana', 10).items.map((d) => d.text)).toEqual(['two']);
  });

  it('belongs to one server id, and notices a data file that went missing', async () => {
    const { dir, store } = await populated();
    await store.claim('s1'); // again: fine
    await expect(store.claim('s2')).rejects.toBeInstanceOf(StoreMismatchError);
    await store.close();
    rmSync(join(dir, 'data.mdb'));
    expect(() => ChatStore.open({ path: dir })).toThrow(StoreDamagedError);
    writeFileSync(join(dir, 'data.mdb'), Buffer.alloc(8192, 7));
    expect(() => ChatStore.open({ path: dir })).toThrow(/not an LMDB environment/);
  });

  it('commits nothing when the builder declines or throws, and keeps the clock marks of what it holds', async () => {
    const store = openStore();
    expect(await store.commitLocal('s1', 'skip', () => undefined)).toBeUndefined();
    await expect(store.commitLocal('s1', 'boom', () => {
      throw new Error('refused');
    })).rejects.toThrow('refused');
    expect(store.digest()).toMatchObject({ ops: 0, hwm: {} });
    await store.apply([{ ...op('s2', 1, 'login', { user: 'bob' }), lc: 77, hlc: [5_000_000_000_000, 3] } as Operation]);
    await store.commitLocal('s1', 'x', (seq) => ({ ...op('s1', seq, 'login', { user: 'ana' }, 'x'), lc: 12 }) as Operation);
    expect(store.clocks()).toEqual({ lc: 77, hlc: [5_000_000_000_000, 3] });
    expect(store.verify().ok).toBe(true);
  });

  it('keeps the earliest login as the one that created the user, whatever order logins arrive in', async () => {
    const store = openStore();
    const later = { ...op('s1', 1, 'login', { user: 'ana' }), hlc: [2_000, 0] } as Operation;
    const earlier = { ...op('s2', 1, 'login', { user: 'ana' }), hlc: [1_000, 0] } as Operation;
    await store.apply([later]);
    expect(store.user('ana')).toMatchObject({ first_seen: 2_000, last_seen: 2_000, first_login: [2_000, 0, 's1', 1] });
    await store.apply([earlier]);
    expect(store.user('ana')).toMatchObject({ first_seen: 1_000, last_seen: 2_000, first_login: [1_000, 0, 's2', 1] });
  });

  it('keeps a page of history under the envelope size limit, whatever the texts', async () => {
    const store = openStore();
    const huge = '😀'.repeat(4000); // 16,000 bytes of UTF-8
    const ops = Array.from({ length: 120 }, (_, i) => op('s1', i + 1, 'publish', { user: 'ana', channel: 'big', text: huge }));
    await store.apply(ops);
    const page = store.history('big', 500);
    expect(page.items.length).toBeLessThan(120);
    expect(page.next).toBeDefined();
    const reply = { messages: page.items, next: encodeCursor(page.next as OrderKey) };
    expect(encode(reply).length).toBeLessThan(1_048_576 - 4096);
    let seen = page.items.length;
    for (let next = page.next as OrderKey | undefined; next; ) {
      const older = store.history('big', 500, next);
      seen += older.items.length;
      next = older.next as OrderKey | undefined;
    }
    expect(seen).toBe(120);
  });
});

describe('ChatStore send-ahead fence', () => {
  const publish = (store: ChatStore, rid: string, sendAhead?: (op: Operation) => void) =>
    store.commitLocal('s1', rid, (seq) => op('s1', seq, 'publish', { user: 'ana', channel: 'general', text: rid }, rid), sendAhead);

  async function claimed(dir = mkdtempSync(join(tmpdir(), 'correio-store-'))): Promise<{ dir: string; store: ChatStore }> {
    if (!dirs.includes(dir)) dirs.push(dir);
    const store = ChatStore.open({ path: dir });
    stores.push(store);
    await store.claim('s1');
    return { dir, store };
  }

  async function closed(store: ChatStore): Promise<void> {
    await store.close();
    stores.splice(stores.indexOf(store), 1);
  }

  it('sends an operation ahead of its commit only under a fence an earlier durable commit wrote, and never a retry', async () => {
    const { store } = await claimed();
    const sent: number[] = [];
    const record = (built: Operation) => sent.push(built.op.seq);
    await publish(store, 'a', record); // no fence on disk yet: sent after its commit, by the caller
    await publish(store, 'b', record);
    await publish(store, 'c', record);
    await publish(store, 'b', record); // a retry: the earlier operation, nothing built or sent
    await publish(store, 'd'); // no sendAhead: nothing sent
    expect(sent).toEqual([2, 3]);
    expect(store.sendAheadUnresolved).toBe(false);
  });

  it("after a commit that failed with its operation sent ahead, refuses own commits (UNAVAILABLE) until resolved; peers' operations still apply", async () => {
    const { store } = await claimed();
    await publish(store, 'a', () => undefined);
    const failing = publish(store, 'b', () => {
      throw new Error('the commit fails after the operation left');
    });
    await expect(failing).rejects.toThrow(/after the operation left/);
    expect(store.sendAheadUnresolved).toBe(true);
    await expect(publish(store, 'c')).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { server: 's1', reason: 'resolving_sent_ahead' } });
    // What the peers send back (the lost operation 2 among them) is stored meanwhile.
    await store.apply([op('s1', 2, 'publish', { user: 'ana', channel: 'general', text: 'b' }, 'b'), op('s2', 1, 'login', { user: 'bo' })]);
    store.sendAheadResolved();
    expect((await publish(store, 'c', () => undefined))?.op.op.seq).toBe(3);
  });

  it('opens resolved after a clean close, and unresolved when the fence on disk is past the high-water mark (a crash mid-commit)', async () => {
    const first = await claimed();
    await publish(first.store, 'a', () => undefined);
    await publish(first.store, 'b', () => undefined);
    await closed(first.store);
    const clean = await claimed(first.dir);
    expect(clean.store.sendAheadUnresolved).toBe(false);
    await publish(clean.store, 'c', () => undefined);
    await closed(clean.store);
    // A kill -9 leaves the fence where the last commit put it, ahead of the high-water mark: the
    // same file state as a clean close followed by writing the fence back by hand.
    const env = open({ path: first.dir, compression: false, overlappingSync: false, maxDbs: 16 });
    await env.openDB({ name: 'meta' }).put('send-ahead', 3 + 1_024);
    await env.close();
    const crashed = await claimed(first.dir);
    expect(crashed.store.sendAheadUnresolved).toBe(true);
    await expect(publish(crashed.store, 'd')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    crashed.store.sendAheadResolved();
    expect((await publish(crashed.store, 'd'))?.op.op.seq).toBe(4);
  });

  it('leaves the fence as it found it when closed by a process that never claimed the store', async () => {
    const first = await claimed();
    await publish(first.store, 'a', () => undefined);
    await publish(first.store, 'b', () => undefined);
    await closed(first.store);
    // A crash: the fence where the commits left it. Then a tool opens and closes the store.
    const env = open({ path: first.dir, compression: false, overlappingSync: false, maxDbs: 16 });
    await env.openDB({ name: 'meta' }).put('send-ahead', 1 + 1_024);
    await env.close();
    await ChatStore.open({ path: first.dir }).close();
    expect((await claimed(first.dir)).store.sendAheadUnresolved).toBe(true);
  });
});

