// The classic path of the seed-compatible mode (FRAMES.md §2): plain REQ clients and REP servers
// through the broker's ROUTER/DEALER queue, one msgpack envelope per message, no MDP. A pyzmq REQ
// client reaches a TypeScript RepServer, and a TypeScript ReqClient reaches a pyzmq REP server.
import { CorreioError, NotFoundError } from '@correio/codec';
import type { AnyEnvelope, BodyOf } from '@correio/protocol';
import { killAll, scratchDir } from '@correio/testing';
import { LamportStamp, RepServer, ReqClient } from '@correio/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requirePeerToolchains, spawnPython, startTopology, type Topology } from '../src/index.js';

const STARTUP_MS = 120_000;
const scratch = scratchDir('correio-interop-seed-');
let seed: NonNullable<Topology['seed']>;

beforeAll(async () => {
  requirePeerToolchains();
  seed = (await startTopology({ dataDir: scratch.dir, seed: true })).seed!;
}, STARTUP_MS);

afterAll(async () => {
  await killAll();
  scratch.remove();
});

describe("the broker's seed-compatible REQ/REP queue", () => {
  it('carries a pyzmq REQ client to a TypeScript RepServer, errors included', async () => {
    const served: AnyEnvelope[] = [];
    const rep = new RepServer({
      from: 'ts-rep-1',
      handler: (request) => {
        served.push(request);
        if (request.type !== 'chat.login.request') throw new NotFoundError(`this server knows no ${request.type}`);
        const { user } = request.body as BodyOf<'chat.login.request'>;
        return { user, first_seen: 1_700_000_000_000, last_seen: Date.now(), created: served.length === 1 } satisfies BodyOf<'chat.login.reply'>;
      },
    });
    rep.connect(seed.backend);
    rep.start();
    try {
      const client = spawnPython('pyzmq REQ', 'seed_peer', ['req', '--endpoint', seed.frontend, '--user', 'ana', '--count', '3']);
      const { code } = await client.exited;
      if (code !== 0) throw client.failure(`exited with ${code}`);
      const lines = client.events();
      expect(lines.filter((line) => 'timeout' in line)).toEqual([]);
      const replies = lines.map((line) => line['reply'] as AnyEnvelope);
      expect(replies.map((reply) => reply.type)).toEqual(['chat.login.reply', 'chat.login.reply', 'chat.login.reply', 'error']);
      expect(replies.slice(0, 3).map((reply) => reply.body)).toEqual([
        expect.objectContaining({ user: 'ana', created: true, first_seen: 1_700_000_000_000 }),
        expect.objectContaining({ user: 'ana', created: false }),
        expect.objectContaining({ user: 'ana', created: false }),
      ]);
      expect(replies[3]!.body).toMatchObject({ code: 'NOT_FOUND', retryable: false, message: 'this server knows no chat.history.request' });
      // Each reply answers its request (same id), and both sides' Lamport clocks move forward.
      expect(replies.map((reply) => reply.id)).toEqual(served.map((request) => request.id));
      expect(served.every((request) => request.from.startsWith('py-req-'))).toBe(true);
      for (const [index, reply] of replies.entries()) {
        expect(reply.from).toBe('ts-rep-1');
        expect(reply.lc).toBeGreaterThan(served[index]!.lc);
        expect(lines[index]!['lc']).toBeGreaterThan(reply.lc);
      }
      expect(rep.stats).toMatchObject({ requests: 4, replies: 4, malformedRequests: 0 });
    } finally {
      await rep.stop();
    }
  });

  it('carries a TypeScript ReqClient to a pyzmq REP server, errors included', async () => {
    const server = spawnPython('pyzmq REP', 'seed_peer', ['rep', '--endpoint', seed.backend, '--id', 'py-rep-1']);
    await server.waitForLine(/"ready": true/, STARTUP_MS);
    const stamp = new LamportStamp('ts-req-1');
    // A request the queue handed to the RepServer of the previous test just as it left is lost
    // with it; the client then retries on a fresh socket with the same id (lazy pirate).
    const client = new ReqClient({ endpoint: seed.frontend, stamp, timeout: 5_000, retries: 2 });
    try {
      const reply = await client.request('chat.login.request', { user: 'bia' });
      expect(reply).toMatchObject({ type: 'chat.login.reply', from: 'py-rep-1', body: { user: 'bia', created: false } });
      expect(stamp.value).toBeGreaterThan(reply.lc);

      let refused: unknown;
      try {
        await client.request('chat.history.request', { channel: 'nowhere' });
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(NotFoundError);
      expect(refused).toMatchObject({ code: 'NOT_FOUND', retryable: false, message: 'there is no channel nowhere' });
      expect((refused as CorreioError).message).toBe('there is no channel nowhere');

      // The REP server saw exactly these two requests, from this client, with the ids answered.
      server.endInput();
      await server.exited;
      const served = server.events().filter((line) => 'served' in line);
      expect(served.map((line) => [line['served'], line['from']])).toEqual([
        ['chat.login.request', 'ts-req-1'],
        ['chat.history.request', 'ts-req-1'],
      ]);
      expect(served[0]!['id']).toBe(reply.id);
    } finally {
      await client.close();
    }
  });
});
