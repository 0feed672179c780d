// A replicated operation a peer stamped at the very end of the clocks' range (found by the
// schema-valid hostile corpus, tools/interop tests/hostile-topology.test.ts): the live path stores
// it without merging its clocks, and a restart must not trip over it either — before, the server
// resumed its HLC past every stored operation and refused to start, for good, on one forged op.
import { join } from 'node:path';
import type { Operation } from '@correio/protocol';
import { killAll } from '@correio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChatClient } from './helpers/chat.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure } from './helpers/processes.js';

const MAX = Number.MAX_SAFE_INTEGER;
/** No reference server; `elsewhere` is a listed peer that never runs, so operations forged under its id are stored (only listed origins are). */
const STANDALONE = ['--no-ref', '--peers', 'elsewhere'];

let infra: Infrastructure;
const clients: ChatClient[] = [];
const scratch = fileScratch({ prefix: 'correio-hostile-replica-clock-', closeFirst: () => Promise.all(clients.map((client) => client.close())) });

beforeAll(async () => {
  infra = await startInfrastructure();
}, 60_000);

afterAll(async () => {
  await killAll();
});

it('stores a peer operation stamped hlc [2^53 − 1, 2^32 − 1], keeps serving, and restarts from that store with its own order intact', async () => {
  const dataDir = join(scratch.dir, 'r1');
  let server = await startServerProcess(infra, 'r1', dataDir, STANDALONE);
  const client = new ChatClient(infra.broker, 'peer-r1');
  clients.push(client);
  await client.call('srv.r1', 'chat.login.request', { user: 'ana' });
  await client.call('srv.r1', 'chat.channel.create.request', { user: 'ana', channel: 'far' });
  await client.call('srv.r1', 'chat.publish.request', { user: 'ana', channel: 'far', text: 'before' });

  // Schema-valid: every field within its range, from a listed origin that is not running.
  const forged: Operation = { op: { origin: 'elsewhere', seq: 1 }, lc: 7, hlc: [MAX, 2 ** 32 - 1], kind: 'publish', data: { user: 'ana', channel: 'far', text: 'from the end of time' } };
  const ahead: Operation = { op: { origin: 'elsewhere', seq: 2 }, lc: 8, hlc: [Date.now() + 3_600_000, 0], kind: 'publish', data: { user: 'ana', channel: 'far', text: 'an hour ahead' } };
  expect((await client.call('srv.r1', 'replica.apply.request', { ops: [forged, ahead] })).applied).toBe(2);
  const written = await client.call('srv.r1', 'chat.publish.request', { user: 'ana', channel: 'far', text: 'after' });
  expect(written.ts).toBeLessThan(Date.now() + 60_000); // the clock did not follow the forged stamps

  await server.child.stop();
  server = await startServerProcess(infra, 'r1', dataDir, STANDALONE);
  expect(server.child.stderr).toMatch(/stamped too far ahead to merge/);
  const restarted = await client.call('srv.r1', 'chat.publish.request', { user: 'ana', channel: 'far', text: 'restarted' });
  expect(restarted.ts).toBeLessThan(Date.now() + 60_000);
  const texts = (await client.call('srv.r1', 'chat.history.request', { channel: 'far', limit: 50 })).messages.map((message) => message.text);
  // History order is (hlc, origin, seq): this server's own messages in the order written, the forged ones last.
  expect(texts).toEqual(['before', 'after', 'restarted', 'an hour ahead', 'from the end of time']);
  await server.child.stop();
}, 120_000);
