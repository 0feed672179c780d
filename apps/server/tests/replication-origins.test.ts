// A server stores replicated operations only from origins its membership lists. A server that has
// just joined may publish before another's view lists it (a start-up race): those operations are
// dropped on the live path, yet not lost — once the view lists their origin, anti-entropy fetches
// them. Two servers in this process, with membership views the test controls, over a real broker
// and proxy.
import { join } from 'node:path';
import { startServer, type RunningServer } from '@correio/server';
import { waitFor } from '@correio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChatClient } from './helpers/chat.js';
import { fileScratch, startInfrastructure, type Infrastructure } from './helpers/processes.js';

let infra: Infrastructure;
let client: ChatClient;
const running: RunningServer[] = [];
const scratch = fileScratch({ prefix: 'correio-replication-origins-', closeFirst: () => client?.close() });

beforeAll(async () => {
  infra = await startInfrastructure();
  client = new ChatClient(infra.broker, 'origins-race');
}, 60_000);

afterAll(async () => {
  await Promise.all(running.map((server) => server.close()));
});

async function start(id: string, view: () => readonly string[]): Promise<RunningServer> {
  const server = await startServer({
    id,
    dataDir: join(scratch.dir, id),
    broker: infra.broker,
    proxy: infra.proxy,
    ref: false,
    peers: view,
    replication: { antiEntropyIntervalMs: 200, requestTimeoutMs: 1_000 },
    heartbeat: { intervalMs: 250 },
  });
  running.push(server);
  return server;
}

it('drops a listed-later origin on the live path, then fetches its operations once the view lists it', async () => {
  const aView: string[] = []; // a does not list b yet
  const a = await start('a', () => aView);
  const b = await start('b', () => ['a']);
  const dropped = () => a.replication.health().counters.unknownOriginDropped;

  // b writes until a has heard (and dropped) one of its replica.op publications: a's subscription
  // reaching the proxy takes a moment, and only a heard publication shows the live path refusing.
  let written = 0;
  await waitFor(async () => {
    await client.call('srv.b', 'chat.login.request', { user: `early-${written++}` });
    return dropped() > 0;
  }, 'a dropping an operation of b', 20_000);
  expect(a.store.highWaterMark('b')).toBe(0);
  expect(b.store.highWaterMark('b')).toBe(written);

  // An acknowledged write cannot count a as holding it meanwhile: a refuses the batch, retryably.
  const refusal = await client.failure('srv.a', 'replica.apply.request', { ops: [b.store.op('b', 1)!] });
  expect(refusal).toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { reason: 'unknown_origin', origins: ['b'] } });

  // The view lists b: anti-entropy brings every operation of b, none lost.
  aView.push('b');
  await waitFor(() => a.store.highWaterMark('b') === written, 'a holding all of b', 20_000);
  expect(a.store.digest().hash).toBe(b.store.digest().hash);
  const users = (await client.call('srv.a', 'chat.users.request', {})).users.map((user) => user.user);
  expect(users).toHaveLength(written);

  // Live from now on: a new write of b reaches a.
  await client.call('srv.b', 'chat.login.request', { user: 'late' });
  await waitFor(() => a.store.highWaterMark('b') === written + 1, 'a holding the late write', 20_000);
}, 120_000);
