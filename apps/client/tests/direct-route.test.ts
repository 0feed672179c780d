// ChatClient straight to a server (protocol revision 1.9) with the real programs: a broker, a proxy,
// the reference server and two chat servers as processes, each server on its direct endpoint (a free
// loopback port, the default next to a local broker). The client picks one from the reference
// server's list and sends its requests there; when that server is killed -9 it goes on through the
// broker and then straight to the other one, losing nothing it was told was published.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatClient } from '@correio/client';
import { CorreioError } from '@correio/codec';
import { chatServerFinder } from '@correio/discovery';
import type { AnyEnvelope } from '@correio/protocol';
import { spawnProgram, waitFor, workspaceRoot, type Child } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startRealInfrastructure } from './helpers/cluster.js';

const cleanups = cleanupAfterEach();
const program = (app: string) => join(workspaceRoot, 'apps', app, 'src', 'main.ts');

async function startCluster(): Promise<{ broker: string; proxySub: string; servers: Map<string, Child> }> {
  const { broker, proxy, data } = await startRealInfrastructure(cleanups, { heartbeatMs: 300, scratchPrefix: 'correio-client-direct-' });
  const endpoint = broker.endpoints[0]!;
  const wiring = ['--broker', endpoint, '--proxy-pub', proxy.frontend, '--proxy-sub', proxy.backend];
  const ref = spawnProgram('ref', program('ref'), [...wiring, '--data-dir', join(data.dir, 'ref'), '--heartbeat', '200', '--misses', '3', '--broker-heartbeat', '300']);
  cleanups.push(() => ref.stop(8_000));
  await ref.waitForLine(/^ref ready /, 30_000);
  const servers = new Map<string, Child>();
  // One after the other: d1 creates the signing keys (in its data directory) that d2 shares, so a token from one verifies on the other.
  for (const id of ['d1', 'd2']) {
    const server = spawnProgram(`server ${id}`, program('server'), [
      ...wiring, '--id', id, '--data-dir', join(data.dir, id), '--heartbeat', '300', '--auth', 'open', ...(id === 'd1' ? [] : ['--auth-keys', join(data.dir, 'd1', 'auth-keys.json')]),
      '--ref', 'ref', '--ref-heartbeat', '200', '--ref-misses', '3', '--election-timeout', '300',
    ]);
    cleanups.push(() => server.stop(8_000));
    servers.set(id, server);
    await server.waitForLine(/^server ready /, 30_000);
  }
  await waitFor(() => broker.snapshot().services.some((service) => service.name === 'chat' && service.workers >= 2), 'both servers on the broker', 15_000);
  return { broker: endpoint, proxySub: proxy.backend, servers };
}

describe('ChatClient straight to a server (revision 1.9)', () => {
  it('publishes on a server\'s direct endpoint, and through the broker then straight to another when that server is killed -9', async () => {
    const at = await startCluster();
    const ana = new ChatClient({ broker: at.broker, proxy: at.proxySub, timeout: 3_000, retries: 3 });
    cleanups.push(() => ana.close());
    const viaBroker = new ChatClient({ broker: at.broker, timeout: 3_000, direct: false });
    cleanups.push(() => viaBroker.close());
    await ana.login('ana');
    await ana.createChannel('general');
    // The route is asked in the background: the requests go through the broker until the link is up.
    // The login and the channel went to whichever server the broker chose; the server the route
    // names may not have them yet (replication is asynchronous here, no --ack-peers), and says so
    // with BAD_REQUEST unknown_user / unknown_channel, as documented: try again until it has them.
    await waitFor(async () => {
      await ana.publish('general', 'warming up').catch((error: unknown) => {
        const reason = (error as CorreioError).data?.['reason'];
        if (!(error instanceof CorreioError && error.code === 'BAD_REQUEST' && (reason === 'unknown_channel' || reason === 'unknown_user'))) throw error;
      });
      return (ana.stats.route?.direct ?? 0) > 0;
    }, 'a request straight to a server', 15_000);
    const first = ana.stats.route!.server!;
    expect(['d1', 'd2']).toContain(first);
    const before = ana.stats.route!;
    const sentViaBroker = ana.stats.requests.sent;
    const published: string[] = [];
    for (let i = 0; i < 20; i++) published.push((await ana.publish('general', `direct ${i}`)).op.origin);
    expect(published).toEqual(Array(20).fill(first)); // one server takes them all, and reads its own writes
    expect(ana.stats.route!.direct - before.direct).toBe(20);
    expect(ana.stats.requests.sent).toBe(sentViaBroker); // none through the broker
    expect(viaBroker.stats.route).toBeUndefined();

    // The server ana talks to dies: every publication still gets its answer, from the other one.
    at.servers.get(first)!.kill('SIGKILL');
    const other = first === 'd1' ? 'd2' : 'd1';
    const afterKill: string[] = [];
    for (let i = 0; i < 10; i++) afterKill.push((await ana.publish('general', `after ${i}`)).op.origin);
    expect(afterKill).toEqual(Array(10).fill(other));
    await waitFor(async () => {
      await ana.publish('general', 'probe');
      return ana.stats.route?.server === other && ana.stats.route.links === 1;
    }, 'the route to name the other server', 15_000);
    const direct = ana.stats.route!.direct;
    const sent = ana.stats.requests.sent;
    await waitFor(async () => {
      await ana.publish('general', 'straight again');
      return ana.stats.route!.direct > direct && ana.stats.requests.sent === sent;
    }, 'requests straight to the other server', 15_000);
    // Everything acknowledged is in the history the other server serves.
    const history = await viaBroker.history('general', { limit: 500 });
    const texts = new Set(history.messages.map((message) => message.text));
    for (let i = 0; i < 10; i++) expect(texts.has(`after ${i}`)).toBe(true);
  }, 90_000);

  it('with a route key, every client with the key writes through the key\'s server, and another key through its own', async () => {
    const at = await startCluster();
    // Which server owns a key is the finder's rendezvous hash over the listed servers: find a key
    // owned by each of the two, so the test says where each client must land.
    const listing = { request: async () => ({ body: { servers: [...at.servers.keys()].map((server, rank) => ({ server, rank, alive: true, peer: 'tcp://127.0.0.1:1' })) } }) as unknown as AnyEnvelope };
    const ownerOf = async (key: string) => (await chatServerFinder(listing, { key })({})).server!;
    const keys = new Map<string, string>();
    for (let i = 0; keys.size < 2 && i < 100; i++) {
      const key = `channel-${i}`;
      const owner = await ownerOf(key);
      if (![...keys.values()].includes(owner)) keys.set(key, owner);
    }
    expect(new Set(keys.values())).toEqual(new Set(['d1', 'd2']));
    const setup = new ChatClient({ broker: at.broker, timeout: 3_000, direct: false });
    cleanups.push(() => setup.close());
    await setup.login('ana');
    for (const key of keys.keys()) await setup.createChannel(key);
    for (const [key, owner] of keys) {
      // Six clients: were they placed at random over two servers, all six would agree once in 32 runs.
      const clients = Array.from({ length: 6 }, () => new ChatClient({ broker: at.broker, timeout: 3_000, retries: 3, routeKey: key }));
      for (const client of clients) {
        cleanups.push(() => client.close());
        await client.login('ana');
        await waitFor(async () => {
          await client.publish(key, 'warming up').catch((error: unknown) => {
            const reason = (error as CorreioError).data?.['reason'];
            if (!(error instanceof CorreioError && error.code === 'BAD_REQUEST' && (reason === 'unknown_channel' || reason === 'unknown_user'))) throw error;
          });
          return (client.stats.route?.direct ?? 0) > 0;
        }, 'a request straight to a server', 15_000);
        expect(client.stats.route!.server).toBe(owner);
        expect((await client.publish(key, 'keyed')).op.origin).toBe(owner);
      }
    }
  }, 90_000);
});
