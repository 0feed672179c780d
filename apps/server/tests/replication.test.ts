// Three chat servers replicating through one broker and one proxy, all child processes over TCP:
// users, channels and messages written on one server are served by every server; readers get
// each live event once (from its origin only); the digest and lag are in /health and /metrics;
// with --ack-peers a write is acknowledged only once peers hold it.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ServerHealth } from '@correio/server';
import { ChatClient, Collector, eventually, wholeHistory } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcess, startServerProcesses, type Infrastructure, type ServerProcess } from './helpers/processes.js';
import { converged, digestOf, historyPages, untilAcknowledged } from './replication-support.js';

const IDS = ['s1', 's2', 's3'] as const;
let infra: Infrastructure;
let servers: ServerProcess[];
let client: ChatClient;
const scratch = fileScratch({ closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  servers = await startServerProcesses(infra, IDS, scratch.dir, (id) => [
    '--peers', IDS.join(','),
    '--anti-entropy', '300',
    '--no-ref', // membership is the static --peers list here
    // s1 acknowledges a write only once both peers applied it durably.
    ...(id === 's1' ? ['--ack-peers', '2', '--ack-timeout', '1000'] : []),
  ]);
  client = new ChatClient(infra.broker, 'replication-test');
}, 90_000);

/** /health as JSON: the server's own health type, serialised. */
async function health(server: ServerProcess): Promise<ServerHealth> {
  return (await (await fetch(`${server.http}/health`)).json()) as ServerHealth;
}

describe('three replicating servers', () => {
  it('lets a user who logged in on one server write through every other once the login has replicated', async () => {
    // Someone who never logged in anywhere is refused everywhere, with the typed error.
    for (const id of IDS) {
      await expect(client.failure(`srv.${id}`, 'chat.publish.request', { user: 'nobody', channel: 'general', text: 'boo' })).resolves.toMatchObject({
        code: 'BAD_REQUEST',
        data: { reason: 'unknown_user', user: 'nobody' },
      });
    }
    await client.call('srv.s2', 'chat.login.request', { user: 'ana' });
    const loggedIn = performance.now();
    await client.call('srv.s2', 'chat.channel.create.request', { user: 'ana', channel: 'general' });
    // Through s3: BAD_REQUEST until the login and the channel arrived there, then accepted.
    const { reply, notYetReplicated } = await untilAcknowledged(
      () => client.transport.request('srv.s3', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'hello from s3' }, { id: 'ana-on-s3-0001', retries: 0 }),
      Date.now() + 10_000,
    );
    const delay = performance.now() - loggedIn;
    expect((reply.body as { op: { origin: string } }).op.origin).toBe('s3');
    console.info(`replication: a login on s2 was usable on s3 after ${delay.toFixed(1)} ms (${notYetReplicated} BAD_REQUEST answers meanwhile)`);
    for (const id of IDS) {
      await eventually(async () => (await client.call(`srv.${id}`, 'chat.users.request', {})).users.some((u) => u.user === 'ana'), 10_000, `ana known on ${id}`);
    }
  });

  it('serves every publication from every server, in one order, and delivers each live event once, from its origin', async () => {
    await client.call('srv.s2', 'chat.login.request', { user: 'bia' });
    await client.call('srv.s2', 'chat.channel.create.request', { user: 'bia', channel: 'live' });
    await converged(client, IDS, 15_000);
    const collector = new Collector(infra.proxy.sub, ['chan/live/']);
    /**
     * Publishes `text` through each server until the collector has one of it from that server. The
     * first time, this shows the subscription reached every server; later, one server's publications
     * travel in order, so everything a server published before is in too.
     */
    const throughEachServer = async (text: string) => {
      for (const id of IDS) {
        await eventually(async () => {
          await client.call(`srv.${id}`, 'chat.publish.request', { user: 'bia', channel: 'live', text });
          await new Promise((resolve) => setTimeout(resolve, 50));
          return collector.of('chat.publication').some((p) => p.text === text && p.op.origin === id);
        }, 15_000, `a publication of ${id} reaching the subscriber`);
      }
    };
    try {
      await throughEachServer('probe');
      const acknowledged: string[] = [];
      await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const id = IDS[i % 3]!;
          const reply = await client.call(`srv.${id}`, 'chat.publish.request', { user: 'bia', channel: 'live', text: `live ${i} via ${id}` });
          acknowledged.push(`${reply.op.origin}:${reply.op.seq}`);
        }),
      );
      await converged(client, IDS, 15_000);
      // Same history, same pages, same cursors on every server.
      const pages = await Promise.all(IDS.map((id) => historyPages(client, `srv.${id}`, 'live', 7)));
      expect(pages[1]).toEqual(pages[0]);
      expect(pages[2]).toEqual(pages[0]);
      const history = await wholeHistory(client, 'srv.s1', 'live');
      expect(history.filter((p) => p.text.startsWith('live ')).map((p) => `${p.op.origin}:${p.op.seq}`).sort()).toEqual([...acknowledged].sort());
      // Ordered by (HLC, origin, seq).
      const keys = history.map((p) => [p.hlc[0], p.hlc[1], p.op.origin, p.op.seq] as const);
      for (let i = 1; i < keys.length; i++) {
        const [a, b] = [keys[i - 1]!, keys[i]!];
        expect(a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : a[3] - b[3])).toBeLessThan(0);
      }
      // Live: each publication exactly once, published by the server that stored it first.
      // After each server's marker, whatever that server published before (a replica re-publishing
      // included) has arrived.
      await throughEachServer('marker');
      const live = collector.received.filter((p) => p.envelope.type === 'chat.publication' && (p.envelope.body as { text: string }).text.startsWith('live '));
      expect(live).toHaveLength(30);
      for (const publication of live) {
        const body = publication.envelope.body as { op: { origin: string } };
        expect(publication.envelope.from).toBe(body.op.origin);
      }
    } finally {
      await collector.close();
    }
  });

  it('reports the digest, per-peer lag and sync counters in /health and /metrics', async () => {
    const { digest } = await converged(client, IDS, 15_000);
    // Every server reads its peers' digests by anti-entropy (every 300 ms here): wait until each has seen the final one.
    await eventually(async () => {
      const views = await Promise.all(servers.map((server) => health(server)));
      return views.every((view) => view.replication.peers.every((peer) => peer.hash === digest.hash && peer.ahead === 0 && peer.behind === 0));
    }, 15_000, "every server seeing both peers' final digests");
    for (const server of servers) {
      const body = await health(server);
      expect(body).toMatchObject({ ready: true, status: 'ok', store: { hash: digest.hash, ops: digest.ops, hwm: digest.hwm } });
      // (The catch-up at start may have found peers not serving yet: all three started at once.)
      expect(body.replication).toMatchObject({ state: 'running', caughtUp: true, catchUp: { fetched: 0 } });
      const peers = body.replication.peers;
      expect(peers.map((p) => p.peer).sort()).toEqual(IDS.filter((id) => id !== server.id));
      for (const peer of peers) expect(peer).toMatchObject({ ahead: 0, behind: 0, hash: digest.hash });
      const metrics = await (await fetch(`${server.http}/metrics`)).text();
      for (const peer of peers) expect(metrics).toMatch(new RegExp(`^correio_replication_lag_ops\\{peer="${peer.peer}"\\} 0$`, 'm'));
      expect(metrics).toMatch(/^correio_replication_sync_failures_total \d+$/m);
      expect(metrics).toMatch(/^correio_replication_syncs_total [1-9]\d*$/m);
      for (const [origin, hwm] of Object.entries(digest.hwm)) expect(metrics).toContain(`correio_replication_high_water_mark{origin="${origin}"} ${hwm}`);
    }
  });

  it('with --ack-peers 2, replies only once both peers hold the write; with a peer paused it fails retryably, and the retry is stored once', async () => {
    await client.call('srv.s1', 'chat.login.request', { user: 'caio' });
    await client.call('srv.s1', 'chat.channel.create.request', { user: 'caio', channel: 'acked' });
    const published = async (type: string) => Number((await (await fetch(`${servers[0]!.http}/metrics`)).text()).match(new RegExp(`^correio_server_events_published\\{type="${type}"\\} (\\d+)$`, 'm'))?.[1] ?? 0);
    const before = { replica: await published('replica.op'), chat: await published('chat.publication') };
    for (let i = 0; i < 5; i++) {
      const reply = await client.call('srv.s1', 'chat.publish.request', { user: 'caio', channel: 'acked', text: `confirmed ${i}` });
      // No waiting: the peers applied it durably before s1 replied.
      for (const peer of ['srv.s2', 'srv.s3']) {
        const history = await client.call(peer, 'chat.history.request', { channel: 'acked', limit: 1 });
        expect(history.messages.map((m) => m.op)).toEqual([reply.op]);
      }
    }
    // The peers got those writes in replica.apply batches only: no replica.op publication to decode twice.
    expect({ replica: await published('replica.op'), chat: await published('chat.publication') }).toEqual({ replica: before.replica, chat: before.chat + 5 });
    const s3 = servers[2]!;
    s3.child.kill('SIGSTOP');
    try {
      const body = { user: 'caio', channel: 'acked', text: 'only s2 could confirm this' };
      const failure = await client.failure('srv.s1', 'chat.publish.request', body, { id: 'ack-retry-0001', timeout: 5_000 });
      expect(failure).toMatchObject({ retryable: true });
      expect(['TIMEOUT', 'UNAVAILABLE']).toContain(failure.code);
      expect(failure.message).toMatch(/stored on this server/);
    } finally {
      s3.child.kill('SIGCONT');
    }
    const retried = await untilAcknowledged(
      () => client.transport.request('srv.s1', 'chat.publish.request', { user: 'caio', channel: 'acked', text: 'only s2 could confirm this' }, { id: 'ack-retry-0001', timeout: 5_000, retries: 0 }),
      Date.now() + 20_000,
    );
    const op = (retried.reply.body as { op: { origin: string; seq: number } }).op;
    for (const id of IDS) {
      const history = await wholeHistory(client, `srv.${id}`, 'acked');
      expect(history.filter((m) => m.text === 'only s2 could confirm this').map((m) => m.op)).toEqual([op]);
    }
    const metrics = await (await fetch(`${servers[0]!.http}/metrics`)).text();
    expect(metrics).toMatch(/^correio_replication_acks_failed_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^correio_replication_acks_confirmed_total [1-9]\d*$/m);
    expect((await digestOf(client, 's1')).hwm['s1']).toBeGreaterThan(0);
  }, 60_000);

  it('refuses chat while catching up (serving replica requests meanwhile) and reports ready only after', async () => {
    await converged(client, IDS, 15_000);
    const reference = await digestOf(client, 's1');
    // s3 paused: the newcomer's catch-up waits for it (2 s) before giving up on it, a window to look through.
    const s3 = servers[2]!;
    s3.child.kill('SIGSTOP');
    try {
      const starting = startServerProcess(infra, 's4', `${scratch.dir}/s4`, ['--peers', [...IDS, 's4'].join(','), '--no-ref', '--log-level', 'info']);
      let ready = false;
      void starting.then(() => (ready = true), () => undefined);
      let refusal: unknown;
      let digestMeanwhile: unknown;
      for (let i = 0; i < 400 && !ready && refusal === undefined; i++) {
        const failure = await client.failure('srv.s4', 'chat.users.request', {}, { timeout: 1_000 }).catch(() => undefined);
        if (failure?.code === 'UNAVAILABLE' && (failure.data as { reason?: string } | undefined)?.reason === 'catching_up') {
          refusal = failure;
          digestMeanwhile = await digestOf(client, 's4');
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(refusal, 'a chat request refused while catching up').toMatchObject({ code: 'UNAVAILABLE', retryable: true });
      expect(digestMeanwhile).toMatchObject({ server: 's4' });
      const s4 = await starting;
      expect(s4.readyLine).toMatch(new RegExp(` ops=${reference.ops} fetched=${reference.ops} `));
      expect(await digestOf(client, 's4')).toMatchObject({ hash: reference.hash, ops: reference.ops });
      expect(s4.child.stderr).toMatch(/caught up with 2 of 3 peers: fetched \d+ operations in \d+ ms; unreachable: s3/);
      expect((await health(s4)).replication).toMatchObject({ caughtUp: true, catchUp: { unreachable: ['s3'] } });
      expect((await client.call('srv.s4', 'chat.users.request', {})).users.length).toBeGreaterThan(0);
    } finally {
      s3.child.kill('SIGCONT');
    }
    // Replication addresses one server: through the shared `chat` service it is refused.
    await expect(client.failure('chat', 'replica.digest.request', {})).resolves.toMatchObject({ code: 'BAD_REQUEST', data: { service: 'chat' } });
  }, 60_000);
});
