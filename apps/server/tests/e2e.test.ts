// Two chat servers as child processes behind apps/broker and apps/proxy (child processes too),
// over TCP; the test speaks the protocol with @correio/transport. Writes go to one server (srv.<id>
// or the load-balanced `chat`); live replication over the proxy's replica/ topics brings them to the other.
import { encode as msgpack } from '@msgpack/msgpack';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BodyOf } from '@correio/protocol';
import { ChatClient, Collector, eventually, rawEnvelope, wholeHistory } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcesses, type Infrastructure, type ServerProcess } from './helpers/processes.js';

let infra: Infrastructure;
let servers: ServerProcess[];
let client: ChatClient;
const scratch = fileScratch({ closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  // Membership is a static list here (no reference server): replicated operations are stored only from listed origins.
  servers = await startServerProcesses(infra, ['s1', 's2'], scratch.dir, () => ['--peers', 's1,s2', '--no-ref']);
  client = new ChatClient(infra.broker);
}, 90_000);

const ON_BOTH = ['srv.s1', 'srv.s2'] as const;
const opKey = (op: { origin: string; seq: number }) => `${op.origin}:${op.seq}`;

async function health(server: ServerProcess): Promise<{ store: { ops: number; hash: string; hwm: Record<string, number> } }> {
  return (await (await fetch(`${server.http}/health`)).json()) as never;
}

describe('two chat servers behind one broker and one proxy', () => {
  it('logs users in idempotently, lists them with their last-seen time, creates and lists channels', async () => {
    const first = await client.call('srv.s1', 'chat.login.request', { user: 'ana' });
    expect(first).toMatchObject({ user: 'ana', created: true });
    expect(first.first_seen).toBe(first.last_seen);
    const again = await client.call('srv.s1', 'chat.login.request', { user: 'ana' });
    expect(again).toMatchObject({ user: 'ana', created: false, first_seen: first.first_seen });
    expect(again.last_seen).toBeGreaterThanOrEqual(first.last_seen);
    await client.call('srv.s1', 'chat.login.request', { user: 'bia' });

    const users = await client.call('srv.s1', 'chat.users.request', {});
    expect(users.users.find((u) => u.user === 'ana')).toEqual({ user: 'ana', first_seen: first.first_seen, last_seen: again.last_seen });
    const page = await client.call('srv.s1', 'chat.users.request', { limit: 1 });
    expect(page.users).toHaveLength(1);
    const rest = await client.call('srv.s1', 'chat.users.request', { limit: 500, after: page.next! });
    expect([...page.users, ...rest.users].map((u) => u.user)).toEqual(users.users.map((u) => u.user));

    const created = await client.call('srv.s1', 'chat.channel.create.request', { user: 'ana', channel: 'general' });
    expect(created).toMatchObject({ channel: 'general', created: true, created_by: 'ana' });
    const existing = await client.call('srv.s1', 'chat.channel.create.request', { user: 'bia', channel: 'general' });
    expect(existing).toEqual({ ...created, created: false });
    const channels = await client.call('srv.s1', 'chat.channels.request', {});
    expect(channels.channels).toContainEqual({ channel: 'general', created_by: 'ana', created_at: created.created_at });
  });

  it('stores every acknowledged publication exactly once on every server and delivers it to subscribers', async () => {
    const writers = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];
    for (const service of ON_BOTH) {
      for (const user of writers) await client.call(service, 'chat.login.request', { user });
      await client.call(service, 'chat.channel.create.request', { user: 'w1', channel: 'delivery' });
    }
    const collector = new Collector(infra.proxy.sub, ['chan/delivery/', 'user/w2/', 'replica/']);
    try {
      // A subscription reaches the publishers asynchronously: probe each server until it arrives.
      for (const service of ON_BOTH) {
        const origin = service.slice(4);
        await eventually(async () => {
          await client.call(service, 'chat.publish.request', { user: 'w1', channel: 'delivery', text: 'probe' });
          await new Promise((resolve) => setTimeout(resolve, 50));
          return collector.of('chat.publication').some((p) => p.op.origin === origin);
        }, 15_000, `subscription reaching ${origin}`);
      }
      const before = collector.received.length;
      const retriesBefore = client.transport.stats.retries;

      // 6 writers × 30 publications through the load-balanced `chat` service, all at once.
      const acks = await Promise.all(
        writers.flatMap((user) =>
          Array.from({ length: 30 }, (_, i) =>
            client.call('chat', 'chat.publish.request', { user, channel: 'delivery', text: `${user} #${i}` }).then((reply) => ({ reply, text: `${user} #${i}` })),
          ),
        ),
      );
      const directs = await Promise.all(
        Array.from({ length: 20 }, (_, i) => client.call('chat', 'chat.direct.request', { user: 'w1', to: 'w2', text: `psst ${i}` }).then((reply) => ({ reply, text: `psst ${i}` }))),
      );
      expect(new Set(acks.map((a) => a.reply.op.origin))).toEqual(new Set(['s1', 's2'])); // the broker spread them

      // Stored exactly once on each server: the one that acknowledged it, and the other by replication.
      const stored = new Map<string, BodyOf<'chat.publication'>[]>();
      await eventually(async () => {
        for (const service of ON_BOTH) stored.set(service.slice(4), (await wholeHistory(client, service, 'delivery')).filter((p) => p.text !== 'probe'));
        return [...stored.values()].every((history) => history.length >= acks.length);
      }, 15_000, 'every publication replicated to both servers');
      // A request retried after a time-out (a loaded machine) may commit on both servers; readers then
      // see the earliest operation of its request id, which may not be the one that answered
      // (docs/architecture.md, Guarantees). So each text is there once, under the acknowledged op
      // unless the client retried.
      const retried = client.transport.stats.retries > retriesBefore;
      for (const [server, history] of stored) {
        for (const { reply, text } of acks) {
          const copies = history.filter((p) => p.text === text);
          expect(copies, `${text} on ${server}`).toHaveLength(1);
          if (!retried) expect(copies[0]).toMatchObject({ op: reply.op, channel: 'delivery', lc: reply.lc, ts: reply.ts });
        }
        expect(history.map((p) => p.text).sort()).toEqual(acks.map((a) => a.text).sort());
      }

      // Delivered to the subscriber: each acknowledged publication and direct message exactly once.
      // Each publication and direct message arrives twice: as itself, and as a replica.op on replica/.
      await eventually(() => collector.received.length - before >= 2 * (acks.length + directs.length), 15_000, 'every publication delivered');
      // (A retry committed on both servers is announced by both: then the acknowledged ops are among those delivered.)
      const expectDelivered = (delivered: { op: { origin: string; seq: number } }[], acknowledged: { reply: { op: { origin: string; seq: number } } }[]) => {
        const keys = delivered.map((item) => opKey(item.op)).sort();
        if (!retried) expect(keys).toEqual(acknowledged.map((a) => opKey(a.reply.op)).sort());
        else expect(acknowledged.filter((a) => !keys.includes(opKey(a.reply.op)))).toEqual([]);
      };
      const delivered = collector.of('chat.publication').filter((p) => p.text !== 'probe');
      expectDelivered(delivered, acks);
      const deliveredDirects = collector.of('chat.direct');
      expectDelivered(deliveredDirects, directs);
      expect(deliveredDirects.every((d) => d.from === 'w1' && d.to === 'w2')).toBe(true);
      // Every committed operation also went out on replica/, for the replication to come.
      const replicated = new Set(collector.of('replica.op').map((o) => opKey(o.op)));
      for (const { reply } of [...acks, ...directs]) expect(replicated.has(opKey(reply.op))).toBe(true);
      const replicaOp = collector.of('replica.op').find((o) => opKey(o.op) === opKey(acks[0]!.reply.op));
      expect(replicaOp).toMatchObject({ kind: 'publish', data: { user: acks[0]!.text.split(' ')[0], channel: 'delivery', text: acks[0]!.text }, lc: acks[0]!.reply.lc });
      expect(replicaOp?.rid).toMatch(/^[0-9A-Za-z_-]+$/);
      expect(collector.gaps).toBe(0);
    } finally {
      await collector.close();
    }
  });

  it('pages channel history and conversations with cursors: newest page first, oldest first within a page', async () => {
    await client.call('srv.s2', 'chat.login.request', { user: 'pat' });
    await client.call('srv.s2', 'chat.login.request', { user: 'quim' });
    await client.call('srv.s2', 'chat.channel.create.request', { user: 'pat', channel: 'paging' });
    const texts = Array.from({ length: 23 }, (_, i) => `message ${i}`);
    for (const text of texts) await client.call('srv.s2', 'chat.publish.request', { user: 'pat', channel: 'paging', text });

    const first = await client.call('srv.s2', 'chat.history.request', { channel: 'paging', limit: 5 });
    expect(first.messages.map((m) => m.text)).toEqual(texts.slice(18));
    const pages = [first.messages.map((m) => m.text)];
    let next = first.next;
    for (let i = 0; next !== undefined && i < 10; i++) {
      const page = await client.call('srv.s2', 'chat.history.request', { channel: 'paging', limit: 5, before: next });
      pages.unshift(page.messages.map((m) => m.text));
      next = page.next;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 5, 5, 5, 5]);
    expect(pages.flat()).toEqual(texts);
    // Without a limit, the server's default page size (50) holds them all.
    expect((await client.call('srv.s2', 'chat.history.request', { channel: 'paging' })).next).toBeUndefined();
    // The other server holds the same history, in the same order, by replication.
    await eventually(async () => (await wholeHistory(client, 'srv.s1', 'paging').catch(() => [])).length === texts.length, 15_000, 'paging replicated to s1');
    expect((await wholeHistory(client, 'srv.s1', 'paging')).map((m) => m.text)).toEqual(texts);

    // A conversation holds both directions, in order.
    for (let i = 0; i < 7; i++) {
      const [user, to] = i % 2 === 0 ? ['pat', 'quim'] : ['quim', 'pat'];
      await client.call('srv.s2', 'chat.direct.request', { user: user!, to: to!, text: `dm ${i}` });
    }
    const latest = await client.call('srv.s2', 'chat.conversation.request', { user: 'quim', peer: 'pat', limit: 4 });
    expect(latest.messages.map((m) => `${m.from}>${m.to}:${m.text}`)).toEqual(['quim>pat:dm 3', 'pat>quim:dm 4', 'quim>pat:dm 5', 'pat>quim:dm 6']);
    const older = await client.call('srv.s2', 'chat.conversation.request', { user: 'pat', peer: 'quim', limit: 4, before: latest.next! });
    expect(older.messages.map((m) => m.text)).toEqual(['dm 0', 'dm 1', 'dm 2']);
    expect(older.next).toBeUndefined();

    // Each inbox holds what was sent to that user, from anyone, by page; and on the other server once replicated.
    const inbox = await client.call('srv.s2', 'chat.inbox.request', { user: 'quim', limit: 3 });
    expect(inbox.messages.map((m) => `${m.from}>${m.to}:${m.text}`)).toEqual(['pat>quim:dm 2', 'pat>quim:dm 4', 'pat>quim:dm 6']);
    expect((await client.call('srv.s2', 'chat.inbox.request', { user: 'quim', limit: 3, before: inbox.next! })).messages.map((m) => m.text)).toEqual(['dm 0']);
    await eventually(async () => (await client.call('srv.s1', 'chat.inbox.request', { user: 'pat' }).catch(() => undefined))?.messages.length === 3, 15_000, "pat's inbox replicated to s1");
    expect(await client.failure('srv.s1', 'chat.inbox.request', { user: 'ghost' })).toMatchObject({ code: 'NOT_FOUND', data: { user: 'ghost' } });
  });

  it('answers a retried request id with the same operation and stores it once; an id reused for another request is CONFLICT', async () => {
    await client.call('srv.s1', 'chat.login.request', { user: 'rui' });
    await client.call('srv.s1', 'chat.channel.create.request', { user: 'rui', channel: 'dedup' });
    const body = { user: 'rui', channel: 'dedup', text: 'only once' };
    const first = await client.call('srv.s1', 'chat.publish.request', body, { id: 'retry-me-0001' });
    const opsAfterFirst = (await health(servers[0]!)).store.ops;
    // Retries from other clients too (a client that restarted): the store, not a cache, recognises the id.
    const other = new ChatClient(infra.broker, 'another-client');
    try {
      const retries = await Promise.all([client.call('srv.s1', 'chat.publish.request', body, { id: 'retry-me-0001' }), other.call('srv.s1', 'chat.publish.request', body, { id: 'retry-me-0001' })]);
      for (const retry of retries) expect(retry).toEqual(first);
    } finally {
      await other.close();
    }
    expect((await wholeHistory(client, 'srv.s1', 'dedup')).map((p) => p.text)).toEqual(['only once']);
    expect((await health(servers[0]!)).store.ops).toBe(opsAfterFirst);

    // A retried login gets the very same reply, created flag included.
    const login = await client.call('srv.s1', 'chat.login.request', { user: 'newbie' }, { id: 'login-once-0001' });
    expect(await client.call('srv.s1', 'chat.login.request', { user: 'newbie' }, { id: 'login-once-0001' })).toEqual(login);
    expect(login.created).toBe(true);

    const conflict = await client.failure('srv.s1', 'chat.publish.request', { ...body, text: 'something else' }, { id: 'retry-me-0001' });
    expect(conflict).toMatchObject({ code: 'CONFLICT', retryable: false });
    await expect(client.failure('srv.s1', 'chat.login.request', { user: 'rui' }, { id: 'retry-me-0001' })).resolves.toMatchObject({ code: 'CONFLICT' });
  });

  it('answers bad input with typed errors, stores nothing, and keeps serving', async () => {
    const s1 = servers[0]!;
    await client.call('srv.s1', 'chat.login.request', { user: 'eva' });
    await client.call('srv.s1', 'chat.channel.create.request', { user: 'eva', channel: 'errors' });
    const opsBefore = (await health(s1)).store;

    const refusals = [
      [client.failure('srv.s1', 'chat.publish.request', { user: 'eva', channel: 'nowhere', text: 'hi' }), { code: 'BAD_REQUEST', data: { reason: 'unknown_channel', channel: 'nowhere' } }],
      [client.failure('srv.s1', 'chat.publish.request', { user: 'ghost', channel: 'errors', text: 'boo' }), { code: 'BAD_REQUEST', data: { reason: 'unknown_user', user: 'ghost' } }],
      [client.failure('srv.s1', 'chat.direct.request', { user: 'eva', to: 'ghost', text: 'hi' }), { code: 'BAD_REQUEST', data: { reason: 'unknown_user', user: 'ghost' } }],
      [client.failure('srv.s1', 'chat.direct.request', { user: 'ghost', to: 'eva', text: 'hi' }), { code: 'BAD_REQUEST', data: { user: 'ghost' } }],
      [client.failure('srv.s1', 'chat.channel.create.request', { user: 'ghost', channel: 'haunted' }), { code: 'BAD_REQUEST', data: { user: 'ghost' } }],
      [client.failure('srv.s1', 'chat.history.request', { channel: 'nowhere' }), { code: 'NOT_FOUND', data: { channel: 'nowhere' } }],
      [client.failure('srv.s1', 'chat.conversation.request', { user: 'eva', peer: 'ghost' }), { code: 'NOT_FOUND', data: { user: 'ghost' } }],
      [client.failure('srv.s1', 'chat.history.request', { channel: 'errors', before: 'not-a-cursor-of-ours' }), { code: 'BAD_REQUEST', data: { cursor: 'not-a-cursor-of-ours' } }],
    ] as const;
    for (const [failure, expected] of refusals) await expect(failure).resolves.toMatchObject({ ...expected, retryable: false });

    // What a careless peer in any language can put on the wire: the server's codec answers it.
    const rawCases: [string, Uint8Array, Record<string, unknown>][] = [
      ['empty text', rawEnvelope('chat.publish.request', { user: 'eva', channel: 'errors', text: '' }), { code: 'VALIDATION', data: { path: '/body/text' } }],
      ['text over 4000 code points', rawEnvelope('chat.publish.request', { user: 'eva', channel: 'errors', text: 'é'.repeat(4001) }), { code: 'VALIDATION', data: { path: '/body/text' } }],
      ['an unknown field', rawEnvelope('chat.publish.request', { user: 'eva', channel: 'errors', text: 'hi', admin: true }), { code: 'VALIDATION' }],
      ['a missing field', rawEnvelope('chat.publish.request', { user: 'eva', text: 'hi' }), { code: 'VALIDATION' }],
      ['a bad user name', rawEnvelope('chat.login.request', { user: 'has space' }), { code: 'VALIDATION', data: { path: '/body/user' } }],
      ['a page too large', rawEnvelope('chat.history.request', { channel: 'errors', limit: 501 }), { code: 'VALIDATION', data: { path: '/body/limit' } }],
      ['another protocol version', rawEnvelope('chat.login.request', { user: 'eva' }, { v: 2 }), { code: 'UNSUPPORTED_VERSION' }],
      ['an unknown type', rawEnvelope('chat.teleport.request', { user: 'eva' }), { code: 'UNKNOWN_TYPE' }],
      ['an event instead of a request', rawEnvelope('chat.publication', { op: { origin: 'x', seq: 1 }, channel: 'c', user: 'eva', text: 'hi', lc: 1, hlc: [1, 0], ts: 1 }), { code: 'BAD_REQUEST' }],
      ['another service`s request', rawEnvelope('ref.servers.request', {}), { code: 'BAD_REQUEST' }],
      ['a float', msgpack({ v: 1, type: 'chat.history.request', id: 'float-1', from: 'careless-peer', lc: 1, ts: Date.now(), body: { channel: 'errors', limit: 1.5 } }), { code: 'DECODE' }],
      ['not MessagePack at all', new Uint8Array([0xc1, 0x00, 0xff]), { code: 'DECODE' }],
    ];
    for (const [what, bytes, expected] of rawCases) {
      const reply = await client.raw('srv.s1', bytes);
      expect(reply.type, what).toBe('error');
      expect(reply.body, what).toMatchObject({ ...expected, retryable: false });
      expect(reply.from).toBe('s1');
    }

    // Nothing was stored, and the server still serves.
    expect((await health(s1)).store).toEqual(opsBefore);
    const ok = await client.call('srv.s1', 'chat.publish.request', { user: 'eva', channel: 'errors', text: 'still here' });
    expect(ok.op.origin).toBe('s1');
    expect(servers.every((server) => server.child.alive)).toBe(true);
  });

  it('reports its store digest on /health and Prometheus metrics on /metrics; both digests converge', async () => {
    // Once replication settles, both servers hold the same operations: same count, marks and hash.
    await eventually(async () => {
      const [a, b] = await Promise.all(servers.map((server) => health(server)));
      return a!.store.hash === b!.store.hash;
    }, 15_000, 'the two stores converging');
    for (const server of servers) {
      const response = await fetch(`${server.http}/health`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ ready: true, status: 'ok', id: server.id, serving: ['chat', `srv.${server.id}`, 'config', 'logs'] });
      const store = body['store'] as { ops: number; hash: string; hwm: Record<string, number> };
      expect(store.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(store.ops).toBeGreaterThan(0);
      expect(Object.keys(store.hwm).sort()).toEqual(['s1', 's2']); // its own operations and the replicated ones
      expect(store.hwm['s1']! + store.hwm['s2']!).toBe(store.ops); // contiguous per origin: nothing missing
    }
    const metrics = await (await fetch(`${servers[0]!.http}/metrics`)).text();
    expect(metrics).toMatch(/^correio_server_store_operations \d+/m);
    expect(metrics).toMatch(/^correio_service_calls_total\{[^}]*action="chat.publish.request"[^}]*outcome="OK"[^}]*\} \d+/m);
    expect(metrics).toMatch(/^correio_server_events_published\{type="replica.op"\} \d+/m);
  });
});
