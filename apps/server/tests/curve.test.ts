// A chat server behind a broker and a proxy that serve CURVE only (their --curve-secret-key):
// with --curve-server-key it serves requests and publishes over encrypted sockets; without it,
// its plaintext handshakes are refused and it never becomes ready. With the reference server (also
// on CURVE keys), servers register, elect a coordinator and replicate over encrypted sockets.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCurveKeyPair, RequestClient, Subscriber, type CurveClientOptions, type Publication } from '@correio/transport';
import { eventually } from './helpers/chat.js';
import { clusterHealth, startClusterServer, startRefProcess } from './helpers/cluster.js';
import { brokerMain, fileScratch, proxyMain, serverMain, spawnTs, startServerProcess, TEST_HEARTBEAT_MS, type Infrastructure } from './helpers/processes.js';

const serverPair = generateCurveKeyPair();
const clientPair = generateCurveKeyPair();
const curve: CurveClientOptions = { serverKey: serverPair.publicKey, ...clientPair };

let infra: Infrastructure;
let brokerChild: ReturnType<typeof spawnTs> | undefined;
let client: RequestClient | undefined;
let subscriber: Subscriber | undefined;
const scratch = fileScratch({ prefix: 'correio-server-curve-', closeFirst: async () => Promise.all([client?.close(), subscriber?.close()]) });

beforeAll(async () => {
  const secret = ['--curve-secret-key', serverPair.secretKey];
  const broker = (brokerChild = spawnTs('broker', brokerMain, ['--endpoint', 'tcp://127.0.0.1:*', '--heartbeat', String(TEST_HEARTBEAT_MS), '--startup-grace', '0', ...secret]));
  const proxy = spawnTs('proxy', proxyMain, ['--publishers', 'tcp://127.0.0.1:*', '--subscribers', 'tcp://127.0.0.1:*', ...secret]);
  const [brokerLine, proxyLine] = await Promise.all([broker.waitForLine(/^broker ready /), proxy.waitForLine(/^proxy ready /)]);
  const field = (line: string, name: string) => new RegExp(`${name}=(\\S+)`).exec(line)![1]!;
  infra = { broker: brokerLine.split(' ')[2]!, proxy: { pub: field(proxyLine, 'publishers'), sub: field(proxyLine, 'subscribers') } };
}, 60_000);

describe('a chat server on a CURVE broker and proxy', () => {
  it('serves requests and publishes with --curve-server-key (an ephemeral key pair of its own)', async () => {
    await startServerProcess(infra, 's1', join(scratch.dir, 's1'), ['--no-ref', '--curve-server-key', serverPair.publicKey]);
    client = new RequestClient({ endpoint: infra.broker, from: 'curve-client', timeout: 5_000, curve });
    const retry = { retries: 5, backoff: { initialMs: 50, maxMs: 1_000 } };
    const login = await client.request('srv.s1', 'chat.login.request', { user: 'ana' }, retry);
    expect(login.body).toMatchObject({ user: 'ana', created: true });
    await client.request('srv.s1', 'chat.channel.create.request', { user: 'ana', channel: 'sealed' }, retry);

    const heard: Publication[] = [];
    subscriber = new Subscriber({ topics: ['chan/sealed/'], curve });
    subscriber.connect(infra.proxy.sub);
    const live = subscriber;
    void (async () => {
      for await (const publication of live) heard.push(publication);
    })();
    // The subscription reaches the server's publisher asynchronously: publish until one is heard.
    await eventually(async () => {
      await client!.request('srv.s1', 'chat.publish.request', { user: 'ana', channel: 'sealed', text: 'over curve' }, retry);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return heard.some((p) => p.envelope.type === 'chat.publication');
    }, 20_000, 'a publication heard through the CURVE proxy');
    const publication = heard.find((p) => p.envelope.type === 'chat.publication')!;
    expect(publication.envelope.body).toMatchObject({ channel: 'sealed', user: 'ana', text: 'over curve' });
  }, 90_000);

  it('joins a cluster over CURVE: the reference server and two servers register, elect a coordinator and replicate', async () => {
    const keys = ['--curve-server-key', serverPair.publicKey];
    await startRefProcess(infra, join(scratch.dir, 'ref'), keys, { curve });
    const servers = await Promise.all(['k1', 'k2'].map((id) => startClusterServer(infra, id, join(scratch.dir, id), keys)));
    await eventually(async () => {
      const views = await Promise.all(servers.map((server) => clusterHealth(server)));
      const top = Math.max(...views.map((view) => view.cluster.rank ?? 0));
      return views.every((view) => view.cluster.rank !== null && view.cluster.coordinator?.rank === top && view.cluster.peers.length === 1);
    }, 20_000, 'ranks and one coordinator agreed over CURVE');
    client ??= new RequestClient({ endpoint: infra.broker, from: 'curve-client', timeout: 5_000, curve });
    const retry = { retries: 5, backoff: { initialMs: 50, maxMs: 1_000 } };
    await client.request('srv.k1', 'chat.login.request', { user: 'bia' }, retry);
    await eventually(async () => {
      const users = await client!.request('srv.k2', 'chat.users.request', {}, retry);
      return (users.body as { users: { user: string }[] }).users.some((u) => u.user === 'bia');
    }, 15_000, 'a login on k1 replicated to k2');
  }, 120_000);

  it('never becomes ready without the server key: its plaintext handshakes are refused', async () => {
    // Still running, still waiting for the broker (its own notice, 2 s on, says so): refused, not crashed.
    expect(await stillWaiting('s2')).toEqual({ ready: false, waiting: true, alive: true });
    // And the broker, which refused its plaintext handshakes all that time, still serves CURVE clients.
    client ??= new RequestClient({ endpoint: infra.broker, from: 'curve-client', timeout: 5_000, curve });
    const users = await client.request('srv.s1', 'chat.users.request', {}, { retries: 3, backoff: { initialMs: 50, maxMs: 1_000 } });
    expect((users.body as { users: { user: string }[] }).users.map((u) => u.user)).toContain('ana');
    expect(brokerChild!.alive).toBe(true);
  }, 30_000);
});

/**
 * Starts a server without CURVE flags and waits for its readiness line or its notice that it is
 * still waiting for the broker (logged after 2 s without a connection): which came, and whether it
 * still ran then. Killed either way.
 */
async function stillWaiting(id: string): Promise<{ ready: boolean; waiting: boolean; alive: boolean }> {
  const child = spawnTs(`server ${id}`, serverMain, [
    '--id', id,
    '--data-dir', join(scratch.dir, id),
    '--broker', infra.broker,
    '--proxy-pub', infra.proxy.pub,
    '--proxy-sub', infra.proxy.sub,
    '--heartbeat', String(TEST_HEARTBEAT_MS),
    '--no-ref',
  ]);
  try {
    const waitingNotice = `waiting for the broker at ${infra.broker}`;
    await child.waitFor(() => /^server ready /m.test(child.stdout) || child.stderr.includes(waitingNotice), 'its readiness or its waiting notice', 15_000);
    return { ready: /^server ready /m.test(child.stdout), waiting: child.stderr.includes(waitingNotice), alive: child.alive };
  } finally {
    child.kill();
  }
}
