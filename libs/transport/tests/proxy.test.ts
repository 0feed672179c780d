import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { PubSubProxy, type ProxyMode, type PubSubProxyOptions } from '@correio/transport';
import { waitFor } from './helpers/wait.js';

const proxies: PubSubProxy[] = [];
const sockets: zmq.Socket[] = [];

async function startProxy(mode: ProxyMode, options: Partial<PubSubProxyOptions> = {}): Promise<PubSubProxy> {
  const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*', mode, ...options });
  proxies.push(proxy);
  await proxy.start();
  return proxy;
}

function publisher(proxy: PubSubProxy): zmq.Publisher {
  const socket = new zmq.Publisher({ linger: 0, sendHighWaterMark: 100_000 });
  socket.connect(proxy.frontend);
  sockets.push(socket);
  return socket;
}

function subscriber(proxy: PubSubProxy, options: { receiveHighWaterMark?: number } = {}): zmq.Subscriber {
  const socket = new zmq.Subscriber({ linger: 0, receiveTimeout: 400, ...options });
  socket.connect(proxy.backend);
  sockets.push(socket);
  return socket;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Publishes `probe` messages until the subscriber sees one: subscriptions travel asynchronously
 * through the proxy. Later reads skip probes (receiveAll does).
 */
async function awaitSubscription(pub: zmq.Publisher, sub: zmq.Subscriber, topic: string): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    await pub.send([topic, 'probe']);
    try {
      const [received] = await sub.receive();
      if (received!.toString() === topic) return;
    } catch {
      // receive timeout: not subscribed yet
    }
  }
  throw new Error(`subscription to ${topic} never reached the publisher`);
}

async function receiveAll(sub: zmq.Subscriber, limit: number): Promise<string[][]> {
  const messages: string[][] = [];
  for (let i = 0; i < limit; i++) {
    try {
      const message = (await sub.receive()).map(String);
      if (message[1] !== 'probe') messages.push(message);
    } catch {
      break;
    }
  }
  return messages;
}

afterEach(async () => {
  for (const socket of sockets.splice(0)) if (!socket.closed) socket.close();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe.each(['native', 'metered', 'guarded'] as const)('PubSubProxy (%s)', (mode) => {
  it('forwards publications to subscribers of a matching topic prefix only', async () => {
    const proxy = await startProxy(mode);
    const pub = publisher(proxy);
    const channels = subscriber(proxy);
    channels.subscribe('chan/');
    const users = subscriber(proxy);
    users.subscribe('user/alice/');
    await awaitSubscription(pub, channels, 'chan/');
    await awaitSubscription(pub, users, 'user/alice/');
    await pub.send(['chan/general/', 'h1', 'hello']);
    await pub.send(['user/alice/', 'h2', 'dm']);
    await pub.send(['user/bob/', 'h3', 'not for alice']);
    expect(await receiveAll(channels, 10)).toEqual([['chan/general/', 'h1', 'hello']]);
    expect(await receiveAll(users, 10)).toEqual([['user/alice/', 'h2', 'dm']]);
  });

  it('gives a late joiner only what is published after its subscription', async () => {
    const proxy = await startProxy(mode);
    const pub = publisher(proxy);
    const early = subscriber(proxy);
    early.subscribe('svc/');
    await awaitSubscription(pub, early, 'svc/');
    await pub.send(['svc/a/', 'before']);
    const late = subscriber(proxy);
    late.subscribe('svc/');
    await awaitSubscription(pub, late, 'svc/');
    await pub.send(['svc/a/', 'after']);
    const seenEarly = (await receiveAll(early, 20)).map((m) => m[1]);
    const seenLate = (await receiveAll(late, 20)).map((m) => m[1]);
    expect(seenEarly).toEqual(['before', 'after']);
    expect(seenLate).toEqual(['after']);
  });

  it('stops delivering after unsubscribe', async () => {
    const proxy = await startProxy(mode);
    const pub = publisher(proxy);
    const sub = subscriber(proxy);
    sub.subscribe('chan/x/');
    await awaitSubscription(pub, sub, 'chan/x/');
    sub.unsubscribe('chan/x/');
    await sleep(200);
    await pub.send(['chan/x/', 'gone']);
    expect(await receiveAll(sub, 5)).toEqual([]);
  });

  it('never blocks the publisher: a slow subscriber loses messages (seen as sequence gaps), others do not stall', async () => {
    const proxy = await startProxy(mode, { sendHighWaterMark: 50 });
    const pub = publisher(proxy);
    const slow = subscriber(proxy, { receiveHighWaterMark: 50 });
    slow.subscribe('seq/');
    await awaitSubscription(pub, slow, 'seq/');
    const total = 20_000;
    const started = Date.now();
    for (let seq = 1; seq <= total; seq++) await pub.send(['seq/', String(seq)]);
    const publishMs = Date.now() - started;
    await sleep(300);
    const received = (await receiveAll(slow, total)).map((m) => Number(m[1]));
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(total);
    let gaps = 0;
    for (let i = 1; i < received.length; i++) if (received[i]! > received[i - 1]! + 1) gaps++;
    expect(gaps).toBeGreaterThan(0);
    // In order, never duplicated: loss is the only effect.
    expect([...received].sort((a, b) => a - b)).toEqual(received);
    // 20k sends returned without waiting for the subscriber (a generous bound, not a benchmark).
    expect(publishMs).toBeLessThan(15_000);
  });
});

describe('PubSubProxy (metered)', () => {
  it('counts messages, bytes and subscribers per topic', async () => {
    const forwarded: number[] = [];
    const changes: string[] = [];
    const proxy = await startProxy('metered', {
      observer: { forwarded: (bytes) => forwarded.push(bytes), subscription: (topic, on) => changes.push(`${on ? '+' : '-'}${topic}`) },
    });
    const pub = publisher(proxy);
    const a = subscriber(proxy);
    const b = subscriber(proxy);
    a.subscribe('chan/');
    b.subscribe('chan/');
    b.subscribe('user/bob/');
    await awaitSubscription(pub, a, 'chan/');
    await awaitSubscription(pub, b, 'chan/');
    expect(Object.fromEntries(proxy.subscriptions())).toEqual({ 'chan/': 2, 'user/bob/': 1 });
    await sleep(200); // let stray probes land before counting
    const before = proxy.snapshot();
    await pub.send(['chan/general/', '12345']);
    expect(await receiveAll(a, 10)).toEqual([['chan/general/', '12345']]);
    expect(proxy.snapshot().messages - before.messages).toBe(1);
    expect(proxy.snapshot().bytes - before.bytes).toBe('chan/general/'.length + 5);
    b.unsubscribe('user/bob/');
    b.close();
    for (let i = 0; i < 50 && proxy.snapshot().subscriptions !== 1; i++) await sleep(20);
    expect(Object.fromEntries(proxy.subscriptions())).toEqual({ 'chan/': 1 });
    expect(changes).toEqual(expect.arrayContaining(['+chan/', '+user/bob/', '-user/bob/', '-chan/']));
    expect(forwarded.length).toBeGreaterThan(0);
  });
});

describe('PubSubProxy (guarded)', () => {
  it('sends a publication once to a subscriber holding several of its prefixes, and caps subscriptions per connection', async () => {
    const refused: string[] = [];
    const proxy = await startProxy('guarded', { maxSubscriptionsPerConnection: 3, observer: { refused: (reason) => refused.push(reason) } });
    const pub = publisher(proxy);
    const sub = subscriber(proxy);
    for (const prefix of ['chan/', 'chan/general/', '', 'user/', 'bad topic']) sub.subscribe(prefix);
    await awaitSubscription(pub, sub, 'chan/general/');
    await sleep(200); // let stray probes land before counting
    await receiveAll(sub, 50);
    await pub.send(['chan/general/', 'once']);
    expect(await receiveAll(sub, 10)).toEqual([['chan/general/', 'once']]);
    // '' (everything), 'chan/' and 'chan/general/' are held; 'user/' is over the cap of 3.
    expect(Object.fromEntries(proxy.subscriptions())).toEqual({ 'chan/': 1, 'chan/general/': 1, '': 1 });
    expect(refused).toEqual(['connection-limit', 'invalid-topic']);
  });

  it('drops messages for a subscriber at its high-water mark, counted, without holding up the others', async () => {
    let dropped = 0;
    const proxy = await startProxy('guarded', { sendHighWaterMark: 20, observer: { dropped: () => dropped++ } });
    const pub = publisher(proxy);
    // Never read: libzmq stops taking from the connection once its one-message queue is full.
    const stalled = subscriber(proxy, { receiveHighWaterMark: 1 });
    stalled.subscribe('big/');
    const reader = subscriber(proxy);
    reader.subscribe('big/');
    await awaitSubscription(pub, stalled, 'big/');
    await awaitSubscription(pub, reader, 'big/');
    // 64 KiB each: the stalled peer's kernel buffers fill up, then its queue of 20.
    const body = Buffer.alloc(65_536, 0x61);
    const total = 400;
    const reading = receiveAll(reader, total + 100);
    for (let n = 1; n <= total; n++) await pub.send(['big/', String(n), body]);
    const received = (await reading).filter((message) => message[1] !== 'probe').map((message) => Number(message[1]));
    await waitFor(() => dropped > 0, 'drops for the stalled subscriber');
    // The reader is served as it reads: in order, whatever its own losses under load.
    expect(received.length).toBeGreaterThan(0);
    expect([...received].sort((x, y) => x - y)).toEqual(received);
  });
});

describe('PubSubProxy (native)', () => {
  it('reports its mode and bound endpoints', async () => {
    const proxy = await startProxy('native');
    expect(proxy.mode).toBe('native');
    expect(proxy.frontend).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.backend).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.snapshot()).toMatchObject({ mode: 'native', state: 'running', messages: 0 });
    await proxy.close();
    expect(proxy.snapshot().state).toBe('closed');
  });
});
