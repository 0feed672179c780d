// Subscribers that send what no honest one does, from a raw TCP socket speaking ZMTP, against the
// proxy program and a publisher built on @correio/transport (each a child process). Before these
// bounds, each 1 MB subscription grew the proxy by ~50 MB and every PUB socket behind it by as much.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killAll, readMetric, scratchDir, spawnProgram, waitFor, type Child } from '@correio/testing';
import { fixtures, startProxyProcess, type ProxyProcess } from './helpers/children.js';

let honest: zmq.Subscriber | undefined;
const sockets = scratchDir('correio-hostile-');
afterEach(async () => {
  honest?.close();
  honest = undefined;
  await killAll();
});
afterAll(() => sockets.remove());

let proxies = 0;
/** The proxy on ipc:// endpoints of its own: no stray peer of another test can reach it through a reused port. */
async function startProxy(args: readonly string[]): Promise<ProxyProcess> {
  const at = (side: string) => `ipc://${join(sockets.dir, `${++proxies}-${side}`)}`;
  const proxy = await startProxyProcess(['--publishers', at('pub'), '--subscribers', at('sub'), ...args]);
  expect(proxy.subscribers).toMatch(/^ipc:/);
  return proxy;
}

/** Resident memory of a process, in MiB. */
function rssMiB(child: Child): number {
  const status = readFileSync(`/proc/${child.process.pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)![1]) / 1024;
}

/** A subscriber of chan/honest/ with a raw zeromq SUB socket, counting what it receives. */
function honestSubscriber(proxy: ProxyProcess): { received: () => number } {
  const socket = new zmq.Subscriber({ linger: 0 });
  honest = socket;
  socket.connect(proxy.subscribers);
  socket.subscribe('chan/honest/');
  let received = 0;
  void (async () => {
    for await (const _ of socket) received++;
  })().catch(() => undefined);
  return { received: () => received };
}

/** The proxy, a @correio/transport publisher on chan/honest/ (and chan/marker/, see the hostile fixture) and an honest subscriber of chan/honest/; baselines taken once it flows. */
async function topology(args: readonly string[]) {
  const proxy = await startProxy(['--http-port', '0', ...args]);
  const publisher = spawnProgram('publisher', join(fixtures, 'transport-publisher.ts'), ['--endpoint', proxy.publishers, '--topics', 'chan/honest/,chan/marker/']);
  const subscriber = honestSubscriber(proxy);
  await waitFor(() => subscriber.received() >= 20, 'the honest subscriber receiving publications');
  return { proxy, publisher, subscriber, baseline: { proxy: rssMiB(proxy.child), publisher: rssMiB(publisher) } };
}

/** Resolves once the honest subscriber has received `more` publications beyond what it had. */
async function stillDelivers(subscriber: { received: () => number }, more = 10): Promise<void> {
  const from = subscriber.received();
  await waitFor(() => subscriber.received() >= from + more, 'the honest subscriber still receiving publications', 10_000);
}

function hostile(proxy: ProxyProcess, args: readonly string[]): Child {
  return spawnProgram('hostile subscriber', join(fixtures, 'hostile-subscriber.ts'), ['--endpoint', proxy.subscribers, ...args]);
}

describe.each(['native', 'metered', 'guarded'])('a hostile subscriber against the proxy (%s)', (mode) => {
  // 15 subscriptions of 1 MB each: before the bound, ~750 MB in the proxy and as much in the publisher.
  it('is cut off at its first oversized subscription; proxy and publisher stay within 25 MiB of their baselines', async () => {
    const { proxy, publisher, subscriber, baseline } = await topology(['--mode', mode]);
    const attacker = hostile(proxy, ['--kind', 'big', '--count', '15', '--size', '1000001']);
    const done = await attacker.waitForEvent<{ cut: number }>('done', 1, 20_000);
    expect(done.cut).toBe(15);
    await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_disconnects_total', { side: 'subscribers' })) >= 15, 'the disconnects counted');
    if (mode === 'guarded') expect(await readMetric(proxy.http!, 'correio_proxy_connections_refused_total', { reason: 'oversized' })).toBe(15);
    await stillDelivers(subscriber);
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 25);
    expect(rssMiB(publisher)).toBeLessThan(baseline.publisher + 25);
    console.log(`${mode}, 15 × 1 MB: proxy ${baseline.proxy.toFixed(0)} → ${rssMiB(proxy.child).toFixed(0)} MiB, publisher ${baseline.publisher.toFixed(0)} → ${rssMiB(publisher).toFixed(0)} MiB`);
  });

  it.each([false, true])('still serves a subscription to a 255-byte topic, the longest there is (CURVE: %s)', async (curve) => {
    // CURVE boxes every message and its INITIATE command is ~270 bytes: the limit leaves room for both.
    const keys = zmq.curveKeyPair();
    const proxy = await startProxy(['--mode', mode, ...(curve ? ['--curve-secret-key', keys.secretKey] : [])]);
    const longest = `chan/${'l'.repeat(249)}/`;
    spawnProgram('publisher', join(fixtures, 'transport-publisher.ts'), ['--endpoint', proxy.publishers, '--topics', longest, ...(curve ? ['--curve-server-key', keys.publicKey] : [])]);
    const client = zmq.curveKeyPair();
    const socket = new zmq.Subscriber({ linger: 0, receiveTimeout: 15_000, ...(curve ? { curveServerKey: keys.publicKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey } : {}) });
    honest = socket;
    socket.connect(proxy.subscribers);
    socket.subscribe(longest);
    const [topic] = await socket.receive();
    expect(topic!.toString()).toBe(longest);
  });
});

describe.each(['native', 'metered', 'guarded'])('a hostile subscriber against the proxy with --upstream all (%s)', (mode) => {
  // The proxy subscribes its publishers to everything and filters itself: whatever subscribers
  // send, a publisher holds one subscription. Without it, ~40 MB in the publisher (native mode).
  it('3,000 distinct topics never reach the publisher; honest subscribers are still served', async () => {
    const { proxy, publisher, subscriber, baseline } = await topology(['--mode', mode, '--upstream', 'all']);
    const attacker = hostile(proxy, ['--kind', 'many', '--count', '3000', '--marker', 'chan/marker/']);
    await attacker.waitForEvent('landed', 1, 45_000);
    if (mode === 'metered') {
      await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_subscriptions')) === 3001, 'the attacker\'s subscriptions counted', 15_000);
      expect(await readMetric(proxy.http!, 'correio_proxy_topics_forwarded')).toBe(1);
    }
    await stillDelivers(subscriber);
    expect(rssMiB(publisher)).toBeLessThan(baseline.publisher + 15);
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 80);
    attacker.kill('SIGKILL');
    await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_disconnects_total', { side: 'subscribers' })) >= 1, 'the attacker\'s departure counted');
    await stillDelivers(subscriber);
  });

  it('exits 0 on SIGTERM', async () => {
    const proxy = await startProxy(['--mode', mode, '--upstream', 'all']);
    proxy.child.kill('SIGTERM');
    expect(await proxy.child.exited).toEqual({ code: 0, signal: null });
  });
});

describe('the native proxy\'s own memory', () => {
  // libzmq frees a departed peer's subscriptions, but glibc keeps the pages (RSS does not shrink):
  // the next attack reuses them, so the proxy is bounded by what connected peers hold at once.
  // Native mode: in metered mode the JavaScript heap's garbage adds up to ~15 MiB of noise.
  it('a second attack after the first peer left costs the proxy no more than the first', async () => {
    const { proxy } = await topology(['--mode', 'native', '--upstream', 'all']);
    const peaks: number[] = [];
    for (let round = 1; round <= 2; round++) {
      const attacker = hostile(proxy, ['--kind', 'many', '--count', '3000', '--marker', 'chan/marker/']);
      await attacker.waitForEvent('landed', 1, 45_000);
      peaks.push(rssMiB(proxy.child));
      attacker.kill('SIGKILL');
      await waitFor(async () => (await readMetric(proxy.http!, 'correio_proxy_disconnects_total', { side: 'subscribers' })) >= round, 'the attacker\'s departure counted');
    }
    expect(peaks[1]!).toBeLessThan(peaks[0]! + 10);
  });
});

describe('a hostile subscriber against the metered proxy', () => {
  // 3,000 distinct 255-byte topics: libzmq's PUB keeps ~11 KB per one (a trie node per byte), so
  // ~40 MB in every publisher without the limit; with --max-subscriptions 100, 100 reach it.
  it('passes on at most --max-subscriptions topics, refuses invalid ones, and withdraws them when the peer leaves', async () => {
    const { proxy, publisher, subscriber, baseline } = await topology(['--mode', 'metered', '--max-subscriptions', '100']);
    const metric = (name: string, labels: Record<string, string> = {}) => readMetric(proxy.http!, name, labels);
    const attacker = hostile(proxy, ['--kind', 'many', '--count', '3000', '--invalid', '50', '--marker', 'chan/marker/']);
    await attacker.waitForEvent('landed', 1, 45_000);
    // The honest subscriber's topic is one of the 100, so 99 of the attacker's pass.
    await waitFor(async () => (await metric('correio_proxy_subscriptions_refused_total', { reason: 'limit' })) === 3000 - 99, 'the refusals counted', 15_000);
    expect(await metric('correio_proxy_subscriptions_refused_total', { reason: 'invalid-topic' })).toBe(50);
    expect(await metric('correio_proxy_subscriptions_refused_total', { reason: 'not-a-subscription' })).toBe(1);
    expect(await metric('correio_proxy_topics_forwarded')).toBe(100);
    expect(proxy.child.stderr).toMatch(/subscription refused/);
    await stillDelivers(subscriber);
    // The proxy's own XPUB keeps every subscription of a connected peer (libzmq offers no limit):
    // ~11 KB each, so up to ~40 MB here; the publisher holds only the 100 passed on.
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 80);
    expect(rssMiB(publisher)).toBeLessThan(baseline.publisher + 15);

    attacker.kill('SIGKILL');
    await waitFor(async () => (await metric('correio_proxy_topics_forwarded')) === 1, 'the attacker\'s topics withdrawn', 15_000);
    expect(await metric('correio_proxy_subscriptions', { topic: 'chan/honest/' })).toBe(1);
    await stillDelivers(subscriber);
    expect(rssMiB(publisher)).toBeLessThan(baseline.publisher + 15);
    console.log(`metered, 3000 topics: proxy ${baseline.proxy.toFixed(0)} → ${rssMiB(proxy.child).toFixed(0)} MiB, publisher ${baseline.publisher.toFixed(0)} → ${rssMiB(publisher).toFixed(0)} MiB`);
  });
});

describe('a hostile subscriber against the guarded proxy', () => {
  // The proxy serves subscribers with its own ZMTP, so it knows each subscription's connection:
  // 20,000 distinct 255-byte topics from one connection (~220 MB in a libzmq XPUB's trie) leave
  // it holding --max-subscriptions-per-connection of them.
  const metric = (proxy: ProxyProcess, name: string, labels: Record<string, string> = {}) => readMetric(proxy.http!, name, labels);

  it('holds at most --max-subscriptions-per-connection of one connection; the proxy stays within 20 MiB of its baseline, and holds none once the peer leaves', async () => {
    const { proxy, publisher, subscriber, baseline } = await topology(['--mode', 'guarded', '--max-subscriptions-per-connection', '100']);
    const attacker = hostile(proxy, ['--kind', 'many', '--count', '20000', '--invalid', '50', '--marker', 'chan/marker/']);
    await attacker.waitForEvent('landed', 1, 45_000);
    // 100 held; the marker took the place of the first topic, dropped before it.
    expect(await metric(proxy, 'correio_proxy_subscriptions_refused_total', { reason: 'connection-limit' })).toBe(20000 - 100);
    expect(await metric(proxy, 'correio_proxy_subscriptions_refused_total', { reason: 'invalid-topic' })).toBe(50);
    expect(await metric(proxy, 'correio_proxy_subscriptions_refused_total', { reason: 'not-a-subscription' })).toBe(1);
    expect(await metric(proxy, 'correio_proxy_subscriptions')).toBe(101);
    expect(await metric(proxy, 'correio_proxy_topics_forwarded')).toBe(101);
    expect(proxy.child.stderr).toMatch(/subscription refused: the connection holds its limit/);
    await stillDelivers(subscriber);
    const attacked = rssMiB(proxy.child);
    expect(attacked).toBeLessThan(baseline.proxy + 20);
    expect(rssMiB(publisher)).toBeLessThan(baseline.publisher + 15);

    attacker.kill('SIGKILL');
    await waitFor(async () => (await metric(proxy, 'correio_proxy_topics_forwarded')) === 1, 'the attacker\'s subscriptions released', 15_000);
    expect(await metric(proxy, 'correio_proxy_subscriptions', { topic: 'chan/honest/' })).toBe(1);
    await stillDelivers(subscriber);
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 20);
    console.log(`guarded, 20000 topics: proxy ${baseline.proxy.toFixed(0)} → ${attacked.toFixed(0)} → ${rssMiB(proxy.child).toFixed(0)} MiB after, publisher ${baseline.publisher.toFixed(0)} → ${rssMiB(publisher).toFixed(0)} MiB`);
  });

  it('holds at most --max-subscriptions of all connections together; a second connection is refused at the total', async () => {
    const { proxy, subscriber, baseline } = await topology(['--mode', 'guarded', '--max-subscriptions-per-connection', '100', '--max-subscriptions', '150']);
    const first = hostile(proxy, ['--kind', 'many', '--count', '3000', '--marker', 'chan/marker/']);
    await first.waitForEvent('landed', 1, 45_000);
    const second = hostile(proxy, ['--kind', 'many', '--count', '3000', '--marker', 'chan/marker/']);
    await second.waitForEvent('landed', 1, 45_000);
    // The honest subscriber holds 1 and the first attacker 100: the second gets the 49 left.
    expect(await metric(proxy, 'correio_proxy_subscriptions_refused_total', { reason: 'connection-limit' })).toBe(3000 - 100);
    expect(await metric(proxy, 'correio_proxy_subscriptions_refused_total', { reason: 'limit' })).toBe(3000 - 49);
    expect(await metric(proxy, 'correio_proxy_subscriptions')).toBe(150);
    await stillDelivers(subscriber);
    expect(rssMiB(proxy.child)).toBeLessThan(baseline.proxy + 20);
    first.kill('SIGKILL');
    second.kill('SIGKILL');
    await waitFor(async () => (await metric(proxy, 'correio_proxy_subscriptions')) === 1, 'the attackers\' subscriptions released', 15_000);
    await stillDelivers(subscriber);
  });
});
