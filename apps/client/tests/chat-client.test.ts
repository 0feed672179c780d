// ChatClient against a real broker and proxy, with the fake chat server in the test process.
import { describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError } from '@correio/codec';
import { ChatClient, type ReceivedDirect, type ReceivedPublication } from '@correio/client';
import { freePort, sleep, waitFor } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startBroker, startClusterFor, startProxy, startRestartableCluster } from './helpers/cluster.js';
import { FakeChatServer } from './helpers/FakeChatServer.js';

const cleanups = cleanupAfterEach();
const cluster = () => startClusterFor(cleanups);

function client(at: { brokerEndpoint: string; proxySub?: string }, options: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}): ChatClient {
  const created = new ChatClient({ broker: at.brokerEndpoint, ...(at.proxySub ? { proxy: at.proxySub } : {}), timeout: 2_000, retries: 2, ...options });
  cleanups.push(() => created.close());
  return created;
}

function collect<T>(on: (listener: (event: T) => void) => void): T[] {
  const events: T[] = [];
  on((event) => events.push(event));
  return events;
}

describe('ChatClient', () => {
  it('logs in, creates and lists channels and users', async () => {
    const at = await cluster();
    const ana = client(at);
    const login = await ana.login('ana');
    expect(login).toMatchObject({ user: 'ana', created: true });
    expect(ana.user).toBe('ana');
    expect((await ana.login('ana')).created).toBe(false);

    expect(await ana.createChannel('general')).toMatchObject({ channel: 'general', created: true, created_by: 'ana' });
    expect(await ana.createChannel('general')).toMatchObject({ created: false, created_by: 'ana' });
    await ana.createChannel('random');
    const bob = client(at);
    await bob.login('bob');

    expect((await ana.allChannels()).channels.map((c) => c.channel)).toEqual(['general', 'random']);
    expect((await ana.allUsers()).users.map((u) => u.user)).toEqual(['ana', 'bob']);
  });

  it('reads every page of a long listing', async () => {
    const at = await cluster();
    const ana = client(at);
    await ana.login('ana');
    const names = Array.from({ length: 620 }, (_, i) => `c${String(i).padStart(4, '0')}`);
    await Promise.all(names.map((name) => ana.createChannel(name)));
    const { channels, truncated } = await ana.allChannels();
    expect(truncated).toBe(false);
    expect(channels.map((c) => c.channel)).toEqual(names);
  });

  it('publishes to subscribers and merges their Lamport clocks', async () => {
    const at = await cluster();
    const ana = client(at);
    const bob = client(at);
    await ana.login('ana');
    await bob.login('bob');
    await ana.createChannel('general');
    bob.subscribeChannel('general');
    const received = collect<ReceivedPublication>((listener) => bob.events.on('publication', listener));
    await bob.waitForProxy(5_000);
    await receiveOne(at.server, received, 'probe'); // the subscription has travelled SUB → proxy → the server's PUB

    const before = ana.lc;
    const reply = await ana.publish('general', 'hello, world');
    expect(ana.lc).toBeGreaterThan(before); // ticked on send, merged the reply
    expect(ana.lc).toBeGreaterThan(reply.lc);
    const fromAna = () => received.filter((r) => r.publication.user === 'ana');
    await waitFor(() => fromAna().length === 1, 'the publication', 5_000);
    const { publication, topic } = fromAna()[0]!;
    expect(topic).toBe('chan/general/');
    expect(publication).toMatchObject({ channel: 'general', user: 'ana', text: 'hello, world', op: reply.op, lc: reply.lc });
    expect(bob.lc).toBeGreaterThan(publication.lc);
  });

  it('delivers direct messages on the recipient’s own topic, from the moment it logs in', async () => {
    const at = await cluster();
    const ana = client(at);
    const bob = client(at);
    await ana.login('ana');
    await bob.login('bob');
    expect(bob.topics.has('user/bob/')).toBe(true);
    const received = collect<ReceivedDirect>((listener) => bob.events.on('direct', listener));
    await bob.waitForProxy(5_000);
    // A probe subscription made after user/bob/ on the same socket: once it works, so does user/bob/.
    bob.subscribeChannel('general');
    await receiveOne(at.server, collect<ReceivedPublication>((listener) => bob.events.on('publication', listener)), 'probe');
    const reply = await ana.direct('bob', 'psst');
    await waitFor(() => received.length === 1, 'the direct message', 5_000);
    expect(received[0]!.message).toMatchObject({ from: 'ana', to: 'bob', text: 'psst', op: reply.op });
    expect(bob.lc).toBeGreaterThan(reply.lc);
    const conversation = await bob.conversation('ana');
    expect(conversation.messages.map((m) => m.text)).toEqual(['psst']);
  });

  it('reads history newest page first and merges the clocks it carries', async () => {
    const at = await cluster();
    const ana = client(at);
    await ana.login('ana');
    await ana.createChannel('general');
    for (let i = 1; i <= 7; i += 1) await ana.publish('general', `m${i}`);
    const reader = client(at);
    const first = await reader.history('general', { limit: 3 });
    expect(first.messages.map((m) => m.text)).toEqual(['m5', 'm6', 'm7']);
    expect(reader.lc).toBeGreaterThan(first.messages.at(-1)!.lc);
    const second = await reader.history('general', { limit: 3, before: first.next! });
    expect(second.messages.map((m) => m.text)).toEqual(['m2', 'm3', 'm4']);
    await expect(reader.history('nowhere')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('retrying with the same request id publishes once', async () => {
    const at = await cluster();
    const ana = client(at);
    await ana.login('ana');
    await ana.createChannel('general');
    const first = await ana.publish('general', 'once', { id: 'retry-me-0000000000001' });
    const again = await ana.publish('general', 'once', { id: 'retry-me-0000000000001' });
    expect(again.op).toEqual(first.op);
    expect(at.server.publications.get('general')!.length).toBe(1);
  });

  it('refuses bad names and calls before login without sending anything', async () => {
    const at = await cluster();
    const ana = client(at);
    await expect(ana.publish('general', 'hi')).rejects.toBeInstanceOf(BadRequestError);
    await expect(ana.login('not a name')).rejects.toThrow(/not a valid user name/);
    await ana.login('ana');
    await expect(ana.createChannel('a/b')).rejects.toThrow(/not a valid channel name/);
    expect(ana.stats.requests.sent).toBe(1);
  });

  it('keeps its subscriptions across a proxy restart without subscribing again', async () => {
    const ports = { pub: await freePort(), sub: await freePort() };
    const endpoints = { pub: `tcp://127.0.0.1:${ports.pub}`, sub: `tcp://127.0.0.1:${ports.sub}` };
    const broker = await startBroker('tcp://127.0.0.1:*');
    cleanups.push(() => broker.close());
    let proxy = await startProxy(endpoints.pub, endpoints.sub);
    cleanups.push(() => proxy.close());
    const server = new FakeChatServer({ broker: broker.endpoints[0]!, proxyPub: endpoints.pub }).start();
    cleanups.push(() => server.stop());
    server.channels.set('general', { created_by: 'test', created_at: Date.now() });
    server.publications.set('general', []);

    const bob = client({ brokerEndpoint: broker.endpoints[0]!, proxySub: endpoints.sub });
    const links: boolean[] = [];
    bob.events.on('proxy', ({ up }) => links.push(up));
    bob.subscribeChannel('general');
    const received = collect<ReceivedPublication>((listener) => bob.events.on('publication', listener));
    await receiveOne(server, received, 'before');

    await proxy.close();
    await waitFor(() => !bob.proxyConnected, 'the client to see the proxy go', 10_000);
    proxy = await startProxy(endpoints.pub, endpoints.sub);
    expect(await bob.waitForProxy(15_000)).toBe(true);
    expect(links).toEqual([true, false, true]);
    await receiveOne(server, received, 'after');
    expect(bob.topics).toEqual(new Set(['chan/general/']));
  });

  it('recovers from a broker restart: requests retry with backoff until it is back', async () => {
    const at = await startRestartableCluster(cleanups);
    const ana = client({ brokerEndpoint: at.brokerEndpoint }, { timeout: 1_000, retries: 8, backoff: { initialMs: 200, maxMs: 1_000 } });
    const links: boolean[] = [];
    ana.events.on('broker', ({ up }) => links.push(up));
    await ana.login('ana');

    await at.stopBroker();
    await waitFor(() => !ana.brokerConnected, 'the client to see the broker go', 10_000);
    const pending = ana.createChannel('general');
    await waitFor(() => ana.stats.requests.retries > 0, 'a retry while the broker is down', 10_000);
    await at.restartBroker();
    expect(await pending).toMatchObject({ channel: 'general', created: true });
    expect(links).toEqual([true, false, true]);
    expect(ana.stats.requests.retries).toBeGreaterThan(0);
  });
});

/** Publishes on general until `received` gets one with this text (the subscription may still be travelling). */
async function receiveOne(server: FakeChatServer, received: ReceivedPublication[], text: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    server.inject('general', 'carol', `${text} ${attempt}`);
    await sleep(100);
    if (received.some((r) => r.publication.text.startsWith(text))) return;
  }
  throw new Error(`no publication "${text}" arrived`);
}
