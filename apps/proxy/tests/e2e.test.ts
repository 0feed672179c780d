// The proxy as a real process, publishers and subscribers each in their own process, over TCP.
import { encode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { killAll, readMetric, waitFor, type Child } from '@correio/testing';
import { startProxyProcess, startPublisher, startSubscriber, type ProxyProcess } from './helpers/children.js';

afterEach(killAll);

type Summary = { received: number; gaps: number; lost: number; byTopic: Record<string, number>; firstSeq: Record<string, number>; afterUnsubscribe: number };

/**
 * Waits until every subscriber's subscriptions have travelled SUB → XPUB → XSUB → PUB: a publisher
 * of the test's ("probe", which the subscribers report once and do not count) publishes on their
 * topics until each has received one. Returns how many probes it sent.
 */
async function subscribed(proxy: ProxyProcess, subscribers: Child[]): Promise<number> {
  const topics = new Set((await Promise.all(subscribers.map((subscriber) => subscriber.waitForEvent<{ topics: string[] }>('subscribed')))).flatMap((event) => event.topics));
  const probe = new zmq.Publisher({ linger: 0 });
  probe.connect(proxy.publishers);
  let s = 0;
  try {
    await waitFor(
      async () => {
        if (subscribers.every((subscriber) => subscriber.events('probed').length > 0)) return true;
        s += 1;
        for (const topic of topics) await probe.send([topic, encode({ n: 1, p: 'probe', s }, { sortKeys: true }), 'probe']);
        return false;
      },
      'the subscriptions to reach the publishers',
      10_000,
      50,
    );
  } finally {
    probe.close();
  }
  return s * topics.size;
}

/** Stops a publisher (which marks the ends of its streams until then) and returns how many end marks it sent. */
async function endMarksSent(publisher: Child): Promise<number> {
  await publisher.stop();
  return (await publisher.waitForEvent<{ endMarks: number }>('stopped')).endMarks;
}

describe.each(['native', 'metered', 'guarded'])('proxy process (%s)', (mode) => {
  it('delivers every publication to every matching subscriber, in order, from several publishers', async () => {
    const proxy = await startProxyProcess(['--mode', mode, '--http-port', '0']);
    expect(proxy.mode).toBe(mode);
    const everything = startSubscriber(proxy.subscribers, 'chan/,user/', 3);
    const general = startSubscriber(proxy.subscribers, 'chan/general/', 1);
    const users = startSubscriber(proxy.subscribers, 'user/', 1);
    const probes = await subscribed(proxy, [everything, general, users]);
    // Each publisher starts once the subscriptions to its topics have reached it.
    const channels = startPublisher(proxy.publishers, 'chan/general/,chan/random/', ['--count', '2000']);
    const direct = startPublisher(proxy.publishers, 'user/alice/', ['--count', '1000']);
    await Promise.all([channels.waitForEvent('done', 1, 60_000), direct.waitForEvent('done', 1, 60_000)]);
    const [all, onlyGeneral, onlyUsers] = (await Promise.all([everything, general, users].map((s) => s.waitForEvent('summary', 1, 30_000)))) as unknown as [Summary, Summary, Summary];
    expect(all).toMatchObject({ received: 3000, gaps: 0, byTopic: { 'chan/general/': 1000, 'chan/random/': 1000, 'user/alice/': 1000 } });
    expect(onlyGeneral).toMatchObject({ received: 1000, gaps: 0, byTopic: { 'chan/general/': 1000 }, firstSeq: { 'chan/general/': 1 } });
    expect(onlyUsers).toMatchObject({ received: 1000, gaps: 0, byTopic: { 'user/alice/': 1000 } });
    const health = await fetch(`${proxy.http!}/health`);
    expect(health.status).toBe(200);
    if (mode !== 'native') {
      // The publishers' messages, and those of the probes and of the end marks that got through.
      const endMarks = (await Promise.all([channels, direct].map(endMarksSent))).reduce((a, b) => a + b, 0);
      const forwarded = await readMetric(proxy.http!, 'correio_proxy_messages_total');
      expect(forwarded).toBeGreaterThanOrEqual(3000);
      expect(forwarded).toBeLessThanOrEqual(3000 + probes + endMarks);
      expect(await readMetric(proxy.http!, 'correio_proxy_bytes_total')).toBeGreaterThan(3000 * 30);
    }
  });

  it('never blocks a publisher: a stalled subscriber sees sequence gaps while the publisher and another subscriber go on', async () => {
    const proxy = await startProxyProcess(['--mode', mode, '--send-hwm', '200']);
    const slow = startSubscriber(proxy.subscribers, 'load/', 1, ['--stall-until-go', '--hwm', '200']);
    const fast = startSubscriber(proxy.subscribers, 'load/', 1);
    await subscribed(proxy, [slow, fast]);
    const publisher = startPublisher(proxy.publishers, 'load/', ['--count', '20000', '--size', '256']);
    // The slow subscriber stops reading at its first publication and goes on once all are sent.
    const done = await publisher.waitForEvent('done', 1, 60_000);
    await slow.waitForEvent('first');
    slow.write('go');
    const [slowSummary, fastSummary] = (await Promise.all([slow, fast].map((s) => s.waitForEvent('summary', 1, 60_000)))) as unknown as [Summary, Summary];
    expect(slowSummary.received).toBeGreaterThan(0);
    expect(slowSummary.received).toBeLessThan(20_000);
    expect(slowSummary.gaps).toBeGreaterThan(0);
    expect(slowSummary.received + slowSummary.lost).toBeLessThanOrEqual(20_000);
    // How much more the other subscriber gets depends on the machine's load, so only that it is
    // served and that its losses are accounted for: a stall in one subscriber is not a stall in all.
    expect(fastSummary.received).toBeGreaterThan(0);
    expect(fastSummary.received + fastSummary.lost).toBeLessThanOrEqual(20_000);
    // The publisher's sends all returned promptly (a generous bound: this is not a benchmark).
    expect(done['slowestSendMs']).toBeLessThan(1_000);
  });
});

describe('proxy process', () => {
  it('a late joiner receives only what is published after it subscribed, without gaps', async () => {
    const proxy = await startProxyProcess([]);
    const early = startSubscriber(proxy.subscribers, 'svc/', 1);
    const late = startSubscriber(proxy.subscribers, 'svc/', 1, ['--wait-for-go']);
    await subscribed(proxy, [early]);
    await late.waitForEvent('waiting');
    const publisher = startPublisher(proxy.publishers, 'svc/tick/', ['--count', '1500', '--interval', '2']);
    // Once the stream is under way (the early subscriber has its first publication), the late one subscribes.
    await early.waitForEvent('first', 1, 60_000);
    late.write('go');
    await publisher.waitForEvent('done', 1, 60_000);
    const [earlySummary, lateSummary] = (await Promise.all([early, late].map((s) => s.waitForEvent('summary', 1, 30_000)))) as unknown as [Summary, Summary];
    expect(earlySummary).toMatchObject({ received: 1500, gaps: 0, firstSeq: { 'svc/tick/': 1 } });
    expect(lateSummary.gaps).toBe(0);
    expect(lateSummary.firstSeq['svc/tick/']).toBeGreaterThan(1);
    expect(lateSummary.received).toBe(1500 - lateSummary.firstSeq['svc/tick/']! + 1);
  });

  it('stops delivering a topic after the subscriber unsubscribes, and keeps the others', async () => {
    const proxy = await startProxyProcess(['--mode', 'metered', '--http-port', '0']);
    const subscriber = startSubscriber(proxy.subscribers, 'chan/a/,user/bob/', 1, ['--unsubscribe', 'user/bob/', '--after', '100']);
    await subscribed(proxy, [subscriber]);
    expect(await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: 'user/bob/' })).toBe(1);
    const publisher = startPublisher(proxy.publishers, 'chan/a/,user/bob/', ['--count', '2000', '--interval', '1']);
    await subscriber.waitForEvent('unsubscribed', 1, 30_000);
    await publisher.waitForEvent('done', 1, 60_000);
    const summary = (await subscriber.waitForEvent('summary', 1, 30_000)) as unknown as Summary;
    expect(summary.afterUnsubscribe).toBe(0);
    expect(summary.byTopic['user/bob/']).toBe(100);
    expect(summary.byTopic['chan/a/']).toBe(1000);
    expect(await readMetric(proxy.http!, 'correio_proxy_subscriptions', { topic: 'user/bob/' })).toBe(0);
    expect(await readMetric(proxy.http!, 'correio_proxy_subscription_changes_total', { kind: 'unsubscribe' })).toBeGreaterThanOrEqual(1);
  });

  it('exits 0 on SIGTERM', async () => {
    const proxy = await startProxyProcess([]);
    proxy.child.kill('SIGTERM');
    expect(await proxy.child.exited).toEqual({ code: 0, signal: null });
  });
});
