// What an operator's dashboard reads from the servers (protocol revision 1.3), over real sockets:
// broker, proxy, reference server and two chat servers as child processes. Each server registers
// its /health URL with the reference server, which lists it in ref.servers.reply; its /health has
// the dashboard's flat fields: version, rank, role, coordinator, clock offset, Lamport clock, store
// size, replication lag, high-water marks and the newest operations — never a text or a hash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RefServersReply } from '@correio/protocol';
import type { ServerHealth } from '@correio/server';
import { waitFor } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { ChatClient } from './helpers/chat.js';
import { startClusterServer, startRefProcess } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, type ServerProcess } from './helpers/processes.js';

const IDS = ['d1', 'd2'] as const;
const SECRET = 'nobody but ana and rui may read this';
const PASSWORD = 'a password that must stay put';
/** d2's --http-url: registered as given, whatever the side port binds. */
const ADVERTISED = 'http://d2.dashboard.test:9112';
let servers: ServerProcess[];
let raw: RequestClient;
let chat: ChatClient;
const scratch = fileScratch({
  prefix: 'correio-dashboard-',
  closeFirst: async () => {
    await raw?.close();
    await chat?.close();
  },
});

beforeAll(async () => {
  const infra = await startInfrastructure();
  await startRefProcess(infra, join(scratch.dir, 'ref'));
  // Berkeley rounds every 500 ms, so that both servers soon have a measured clock offset. d2 says
  // where others reach its side port (--http-url), as a server in a container must.
  servers = await Promise.all(IDS.map((id) => startClusterServer(infra, id, join(scratch.dir, id), ['--clock-sync-interval', '500', ...(id === 'd2' ? ['--http-url', ADVERTISED] : [])])));
  raw = new RequestClient({ endpoint: infra.broker, from: 'dashboard-test', timeout: 3_000 });
  chat = new ChatClient(infra.broker, 'dashboard-test-chat');
}, 120_000);

async function health(server: ServerProcess): Promise<{ body: ServerHealth; text: string }> {
  const text = await (await fetch(`${server.http}/health`, { signal: AbortSignal.timeout(5_000) })).text();
  return { body: JSON.parse(text) as ServerHealth, text };
}

describe('the servers as a dashboard sees them', () => {
  it('each server registers its /health URL (its side port, or its --http-url), and the reference server lists it', async () => {
    const listed = await waitFor(async () => {
      const reply = (await raw.request('ref', 'ref.servers.request', {})).body as RefServersReply;
      return reply.servers.length === IDS.length ? reply.servers : undefined;
    }, 'both servers listed', 15_000);
    for (const server of servers) {
      const url = listed.find((entry) => entry.server === server.id)?.http;
      expect(url).toBe(server.id === 'd2' ? ADVERTISED : server.http);
      if (server.id !== 'd2') expect((await health({ ...server, http: url! })).body.id).toBe(server.id);
    }
  });

  it('shows rank, role, coordinator, version and a measured clock offset', async () => {
    const bodies = await waitFor(async () => {
      const read = await Promise.all(servers.map(async (server) => (await health(server)).body));
      const settled = read.every((body) => body.coordinator !== null && Number.isSafeInteger(body.clock_offset_us)) && read.some((body) => body.role === 'coordinator');
      return settled ? read : undefined;
    }, 'a coordinator and a Berkeley round on both servers', 20_000);
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
    const coordinator = bodies.find((body) => body.role === 'coordinator')!;
    expect(coordinator.id).toBe(bodies.reduce((a, b) => (a.rank! > b.rank! ? a : b)).id); // the bully: highest rank
    for (const body of bodies) {
      expect(body).toMatchObject({ version, coordinator: coordinator.id });
      expect(new Set(['coordinator', 'follower'])).toContain(body.role);
      expect(body.rank).toBeGreaterThanOrEqual(1);
      expect(body.lamport).toBeGreaterThan(0);
      expect(body.store_bytes).toBeGreaterThan(0);
    }
  });

  it('lists the newest operations applied, own and replicated, without texts, agreeing with the store', async () => {
    const on = 'srv.d1';
    await chat.call(on, 'chat.register.request', { user: 'bia', password: PASSWORD });
    await chat.call(on, 'chat.login.request', { user: 'ana' });
    await chat.call(on, 'chat.login.request', { user: 'rui' });
    await chat.call(on, 'chat.channel.create.request', { user: 'ana', channel: 'general' });
    for (let i = 0; i < 20; i++) await chat.call(on, 'chat.publish.request', { user: 'ana', channel: 'general', text: `${SECRET} #${i}` });
    await chat.call(on, 'chat.direct.request', { user: 'ana', to: 'rui', text: SECRET });
    const written = 1 + 2 + 1 + 20 + 1;

    const { body, text } = await health(servers[0]!);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('scrypt');
    expect(body.store_ops).toBe(written);
    expect(body.high_water_marks).toEqual([{ origin: 'd1', seq: written }]);
    expect(body.recent_ops).toHaveLength(20);
    expect(body.recent_ops.map((op) => op.seq)).toEqual(Array.from({ length: 20 }, (_, i) => written - i));
    expect(body.recent_ops[0]).toEqual({ origin: 'd1', seq: written, kind: 'direct', at: expect.any(Number), summary: 'ana → rui' });
    expect(body.recent_ops[1]).toMatchObject({ kind: 'publish', summary: 'ana in general' });
    for (const op of body.recent_ops) expect(Object.keys(op).sort()).toEqual(['at', 'kind', 'origin', 'seq', 'summary']);

    // The other server applied them by replication: its recent operations are d1's, its lag drains to 0.
    const replica = await waitFor(async () => {
      const read = await health(servers[1]!);
      return read.body.store_ops === written && read.body.replication_lag_ops === 0 ? read : undefined;
    }, 'd2 to replicate every operation', 20_000);
    expect(replica.text).not.toContain(SECRET);
    expect(replica.body.high_water_marks).toEqual([{ origin: 'd1', seq: written }]);
    // Replicated operations are listed in the order they were applied here, which need not be seq order.
    expect(replica.body.recent_ops).toHaveLength(20);
    expect(new Set(replica.body.recent_ops.map((op) => op.seq)).size).toBe(20);
    for (const op of replica.body.recent_ops) {
      expect(op.origin).toBe('d1');
      expect(op.summary).toMatch(SUMMARIES[op.kind]!);
    }
  });
});

const SUMMARIES: Record<string, RegExp> = {
  register: /^bia registered$/,
  login: /^(ana|rui) logged in$/,
  'channel.create': /^ana created general$/,
  publish: /^ana in general$/,
  direct: /^ana → rui$/,
};
