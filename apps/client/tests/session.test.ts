// ChatSession: the command loop behind the terminal and the JSON mode, over real sockets.
import { describe, expect, it } from 'vitest';
import { ChatClient, ChatSession, type StampedSessionEvent } from '@correio/client';
import { freePort, sleep, waitFor } from '@correio/testing';
import { cleanupAfterEach } from './helpers/cleanups.js';
import { startClusterFor, startProxy, startRestartableCluster, type Cluster } from './helpers/cluster.js';
import { CraftedPublisher } from './helpers/CraftedPublisher.js';

const cleanups = cleanupAfterEach();
const cluster = () => startClusterFor(cleanups);

interface Started {
  readonly client: ChatClient;
  readonly session: ChatSession;
  readonly events: StampedSessionEvent[];
  /** Events of one kind so far. */
  of<E extends StampedSessionEvent['event']>(event: E): Extract<StampedSessionEvent, { event: E }>[];
}

function open(at: { brokerEndpoint: string; proxySub: string }, options: { connectTimeoutMs?: number; proxyWaitMs?: number } = {}): Started {
  const client = new ChatClient({ broker: at.brokerEndpoint, proxy: at.proxySub, timeout: 2_000, retries: 2 });
  cleanups.push(() => client.close());
  const events: StampedSessionEvent[] = [];
  const session = new ChatSession(client, { emit: (event) => events.push(event), historyOnJoin: 5, ...options });
  cleanups.push(async () => session.end());
  return { client, session, events, of: (event) => events.filter((e) => e.event === event) as never };
}

async function started(at: Cluster, user: string): Promise<Started> {
  const opened = open(at);
  await opened.session.start(user);
  await opened.client.waitForProxy(5_000);
  return opened;
}

/** The user of the probe publications below; tests look at other users' publications only. */
const PROBE = 'probe';

/**
 * Publishes probes on `channel` until `who` receives one: its subscription has travelled SUB →
 * proxy → the server's publisher, and so have the ones it made before (one socket keeps them in order).
 */
async function subscribedTo(at: Cluster, who: Started, channel: string): Promise<void> {
  await waitFor(
    () => {
      if (who.of('publication').some((e) => e.channel === channel && e.user === PROBE)) return true;
      at.server.inject(channel, PROBE, 'are you there?');
      return false;
    },
    `the subscription to #${channel} at the server`,
    10_000,
    100,
  );
}

/** The texts of the publications `who` has shown from `user`. */
const textsFrom = (who: Started, user: string) => who.of('publication').filter((e) => e.user === user).map((e) => e.text);

describe('ChatSession', () => {
  it('runs commands in order, one reply each, stamped with the client clock', async () => {
    const at = await cluster();
    const ana = await started(at, 'ana');
    expect(ana.events[0]).toMatchObject({ event: 'ready', user: 'ana', created: true, broker: at.brokerEndpoint, proxy: at.proxySub });
    for (const line of ['/create general', '/join general', 'hello all', '/channels', '/users', '/history 3', '/msg bob hi bob', '/nonsense', '', '/help']) {
      await ana.session.submit(line);
    }
    const replies = ana.events.filter((e) => !['ready', 'publication'].includes(e.event)).map((e) => e.event);
    expect(replies).toEqual(['channel', 'joined', 'published', 'channels', 'users', 'history', 'sent', 'error', 'help']);
    expect(ana.of('error')[0]).toMatchObject({ command: 'nonsense', code: 'USAGE' });
    expect(ana.of('history')[0]!.messages.map((m) => m.text)).toEqual(['hello all']);
    const clocks = ana.events.map((e) => e.clock);
    expect(clocks).toEqual([...clocks].sort((a, b) => a - b)); // the clock never goes back
    expect(ana.session.channel).toBe('general');
  });

  it('shows the recent history on join and live messages after it, each once', async () => {
    const at = await cluster();
    const ana = await started(at, 'ana');
    await ana.session.submit('/create general');
    // Published and gone past the proxy before ana subscribes (another subscriber has them all): history only.
    const watcher = await started(at, 'watcher');
    await watcher.session.submit('/join general');
    await subscribedTo(at, watcher, 'general');
    for (let i = 1; i <= 8; i += 1) at.server.inject('general', 'carol', `old ${i}`);
    await waitFor(() => textsFrom(watcher, 'carol').length === 8, 'the old publications at another subscriber', 5_000);
    await ana.session.submit('/join general');
    expect(ana.of('joined')[0]!.messages.map((m) => m.text)).toEqual(['old 4', 'old 5', 'old 6', 'old 7', 'old 8']);

    const bob = await started(at, 'bob');
    await bob.session.submit('/join general');
    await subscribedTo(at, ana, 'general');
    await bob.session.submit('hi ana');
    await waitFor(() => textsFrom(ana, 'bob').length === 1, 'bob’s publication at ana', 5_000);
    const live = ana.of('publication').find((e) => e.user === 'bob')!;
    expect(live).toMatchObject({ channel: 'general', user: 'bob', text: 'hi ana' });
    expect(live.clock).toBeGreaterThan(live.lc);

    await bob.session.submit('/msg ana psst');
    await waitFor(() => ana.of('direct').length === 1, 'the direct message', 5_000);
    expect(ana.of('direct')[0]).toMatchObject({ from: 'bob', to: 'ana', text: 'psst' });
    // Once a later publication is there, an earlier one shown twice would be too.
    await bob.session.submit('bye ana');
    await waitFor(() => textsFrom(ana, 'bob').length >= 2, 'bob’s second publication at ana', 5_000);
    expect(textsFrom(ana, 'bob')).toEqual(['hi ana', 'bye ana']);
    expect(ana.of('publication').filter((e) => e.user === 'carol')).toEqual([]);
  });

  it('says when a channel does not exist and when no channel is joined', async () => {
    const at = await cluster();
    const ana = await started(at, 'ana');
    await ana.session.submit('just talking');
    await ana.session.submit('/join nowhere');
    expect(ana.of('error').map((e) => [e.command, e.code])).toEqual([
      ['say', 'USAGE'],
      ['join', 'NOT_FOUND'],
    ]);
    expect(ana.of('error')[1]!.message).toMatch(/\/create nowhere/);
    expect(ana.client.topics.has('chan/nowhere/')).toBe(false);
  });

  it('reports a gap, and shows nothing twice when the history re-read finds it all shown', async () => {
    const at = await cluster();
    const ana = await started(at, 'ana');
    await ana.session.submit('/create general');
    await ana.session.submit('/join general');
    await subscribedTo(at, ana, 'general');
    const sent = [1, 2, 3, 4, 5].map((n) => at.server.inject('general', 'dave', `n${n}`));
    await waitFor(() => textsFrom(ana, 'dave').length === 5, 'the publications', 5_000);
    const historyReads = () => at.server.served.get('chat.history.request') ?? 0;
    const readsBeforeGap = historyReads();
    // The same publications again from a second stream that skips 2, 3 and 4: a gap of 3.
    const crafted = new CraftedPublisher(at.proxyPub);
    cleanups.push(() => crafted.close());
    for (let attempt = 0; attempt < 50 && ana.of('gap').length === 0; attempt += 1) {
      await crafted.send(sent[0]!, 1);
      await sleep(100);
      await crafted.send(sent[4]!, 5);
      await sleep(100);
    }
    expect(ana.of('gap')[0]).toMatchObject({ topic: 'chan/general/', channel: 'general', missed: 3, publisher: 'crafted-pub' });
    // The history re-read: served, and its reply handled.
    await waitFor(() => historyReads() > readsBeforeGap && ana.client.stats.requests.inFlight === 0, 'the history re-read', 5_000);
    expect(textsFrom(ana, 'dave')).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(ana.of('error')).toEqual([]);
  });

  it('recovers publications from history that it never received live', async () => {
    const at = await cluster();
    const ana = await started(at, 'ana');
    await ana.session.submit('/create general');
    await ana.session.submit('/join general');
    const crafted = new CraftedPublisher(at.proxyPub, 'other-server');
    cleanups.push(() => crafted.close());
    // Publications of another server: in the history, but the proxy delivers only the first and last.
    const publications = [1, 2, 3, 4].map((n) => ({ op: { origin: 'other-server', seq: n }, channel: 'general', user: 'erin', text: `o${n}`, lc: 100 + n, hlc: [Date.now(), 0] as [number, number], ts: Date.now() }));
    at.server.publications.get('general')!.push(...publications);
    for (let attempt = 0; attempt < 50 && ana.of('publication').length === 0; attempt += 1) {
      await crafted.send(publications[0]!, 1);
      await sleep(100);
    }
    await crafted.send(publications[3]!, 4);
    await waitFor(() => ana.of('publication').filter((e) => e.user === 'erin').length === 4, 'the recovered publications', 5_000);
    const erin = ana.of('publication').filter((e) => e.user === 'erin');
    expect(erin.map((e) => [e.text, e.recovered ?? false])).toEqual([
      ['o1', false],
      ['o4', false],
      ['o2', true],
      ['o3', true],
    ]);
    expect(ana.of('gap')[0]).toMatchObject({ channel: 'general', missed: 2 });
  });

  it('fails to start with a clear message when the broker is down', async () => {
    const port = await freePort();
    const lonely = open({ brokerEndpoint: `tcp://127.0.0.1:${port}`, proxySub: `tcp://127.0.0.1:${await freePort()}` }, { connectTimeoutMs: 500 });
    await expect(lonely.session.start('ana')).rejects.toThrow(`cannot reach the broker at tcp://127.0.0.1:${port}: is it running? Start it with: npx correio broker --endpoint tcp://127.0.0.1:${port}`);
  });

  it('warns when the proxy is down and says when it comes back', async () => {
    const at = await cluster();
    const sub = `tcp://127.0.0.1:${await freePort()}`;
    const ana = open({ brokerEndpoint: at.brokerEndpoint, proxySub: sub }, { proxyWaitMs: 300 });
    await ana.session.start('ana');
    expect(ana.events.map((e) => e.event)).toEqual(['ready', 'connection']);
    expect(ana.of('connection')[0]).toMatchObject({ peer: 'proxy', up: false, endpoint: sub });
    expect(ana.of('connection')[0]!.message).toMatch(/cannot reach the proxy at .*npx correio proxy --subscribers/);
    const proxy = await startProxy('tcp://127.0.0.1:*', sub);
    cleanups.push(() => proxy.close());
    await waitFor(() => ana.of('connection').length === 2, 'the proxy connection', 10_000);
    expect(ana.of('connection')[1]).toMatchObject({ peer: 'proxy', up: true });
  });

  it('tells when the broker goes and comes back; a command sent meanwhile completes', async () => {
    const at = await startRestartableCluster(cleanups);
    const client = new ChatClient({ broker: at.brokerEndpoint, proxy: at.proxy.backend, timeout: 1_000, retries: 8, backoff: { initialMs: 200, maxMs: 1_000 } });
    cleanups.push(() => client.close());
    const events: StampedSessionEvent[] = [];
    const session = new ChatSession(client, { emit: (event) => events.push(event) });
    await session.start('ana');

    await at.stopBroker();
    await waitFor(() => events.some((e) => e.event === 'connection' && !e.up), 'the broker-down notice', 10_000);
    const creating = session.submit('/create general');
    await waitFor(() => client.stats.requests.retries > 0, 'a retry while the broker is down', 10_000);
    await at.restartBroker();
    await creating;
    const notices = events.filter((e) => e.event === 'connection');
    expect(notices.map((e) => [e.peer, e.up])).toEqual([
      ['broker', false],
      ['broker', true],
    ]);
    expect(notices[0]!.message).toMatch(/lost the connection to the broker at .*requests are retried/);
    expect(events.find((e) => e.event === 'channel'), JSON.stringify(events)).toMatchObject({ channel: 'general', created: true });
  });
});
