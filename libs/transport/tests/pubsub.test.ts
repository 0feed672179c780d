import { decode, encode } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { LamportStamp, Publisher, Subscriber, topic, type Publication } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, TRANSPORTS } from './helpers/endpoints.js';
import { codec } from './helpers/messages.js';
import { sleep, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

function event(data: Record<string, unknown>): { event: string; data: Record<string, unknown>; sender: string } {
  return { event: 'test.happened', data, sender: 'tester' };
}

function dataOf(envelope: AnyEnvelope): Record<string, unknown> {
  if (envelope.type !== 'service.event') throw new Error(`unexpected ${envelope.type}`);
  return (envelope.body.data ?? {}) as Record<string, unknown>;
}

async function pair(transport: (typeof TRANSPORTS)[number], publisherOptions: ConstructorParameters<typeof Publisher>[0] = {}, subscriberOptions: ConstructorParameters<typeof Subscriber>[0] = {}) {
  const publisher = new Publisher({ from: 'pub-1', ...publisherOptions });
  cleanup.push(() => publisher.close({ flushTimeout: 0 }));
  const endpoint = await publisher.bind(bindAddress(transport, 'pub'));
  const subscriber = new Subscriber(subscriberOptions);
  cleanup.push(() => subscriber.close());
  subscriber.connect(endpoint);
  const publications = subscriber[Symbol.asyncIterator]();
  return { publisher, subscriber, publications, endpoint };
}

/** Publishes warm-up messages until the subscription has reached the publisher (slow joiner). */
async function warmUp(publisher: Publisher, publications: AsyncIterator<Publication>, on: string): Promise<void> {
  const timer = setInterval(() => publisher.publish(on, 'service.event', event({ warmup: true })), 10);
  try {
    await within(publications.next(), 5000, 'the first publication');
  } finally {
    clearInterval(timer);
  }
}

/** The next `count` publications that are not warm-up messages. */
async function take(publications: AsyncIterator<Publication>, count: number): Promise<Publication[]> {
  const taken: Publication[] = [];
  while (taken.length < count) {
    const next = await within(publications.next(), 5000, `publication ${taken.length + 1} of ${count}`);
    if (next.done) break;
    if (dataOf(next.value.envelope)['warmup'] !== true) taken.push(next.value);
  }
  return taken;
}

describe.each(TRANSPORTS)('pub/sub over %s', (transport) => {
  it('delivers envelopes on subscribed topics with consecutive sequence numbers', async () => {
    const on = topic('svc', 'test.happened');
    const { publisher, subscriber, publications } = await pair(transport, {}, { topics: [on] });
    await warmUp(publisher, publications, on);
    for (let n = 0; n < 100; n += 1) {
      publisher.publish(topic('svc', 'other'), 'service.event', event({ n }));
      publisher.publish(on, 'service.event', event({ n }));
    }
    const received = await take(publications, 100);
    expect(received.map((publication) => dataOf(publication.envelope)['n'])).toEqual(Array.from({ length: 100 }, (_, n) => n));
    expect(received.every((publication) => publication.topic === on && publication.publisher === publisher.id)).toBe(true);
    const seqs = received.map((publication) => publication.seq);
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => seqs[0]! + i));
    expect(subscriber.stats).toMatchObject({ gaps: 0, missed: 0, malformedMessages: 0, malformedBodies: 0 });
  });

  it('keeps every batch within 1 MiB however many publications queued', async () => {
    const on = topic('svc', 'big');
    const { publisher, publications } = await pair(transport, { batching: { maxBatch: 1000 }, sendQueueCapacity: 100 }, { topics: [on] });
    await warmUp(publisher, publications, on);
    const before = publisher.stats;
    const text = 'y'.repeat(60_000);
    for (let n = 0; n < 40; n += 1) publisher.publish(on, 'service.event', event({ n, text }));
    const received = await take(publications, 40);
    expect(received.map((publication) => dataOf(publication.envelope)['n'])).toEqual(Array.from({ length: 40 }, (_, n) => n));
    // 40 × ~60 KB is ~2.4 MB: at least three messages, whatever the timing.
    expect(publisher.stats.messages - before.messages).toBeGreaterThanOrEqual(3);
  });

  it('packs publications queued during a send into one message when batching', async () => {
    const on = topic('svc', 'batch');
    const { publisher, publications } = await pair(transport, { batching: { maxBatch: 16 } }, { topics: [on] });
    await warmUp(publisher, publications, on);
    const before = publisher.stats;
    for (let n = 0; n < 1000; n += 1) publisher.publish(on, 'service.event', event({ n }));
    const received = await take(publications, 1000);
    expect(received.map((publication) => dataOf(publication.envelope)['n'])).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    const messages = publisher.stats.messages - before.messages;
    expect(messages).toBeLessThan(1000);
    expect(messages).toBeGreaterThanOrEqual(1000 / 16);
  });

  it('reports a gap, never hides it, when a slow subscriber falls behind the high-water marks', async () => {
    const on = topic('svc', 'flood');
    const { publisher, subscriber, publications } = await pair(
      transport,
      { sendHighWaterMark: 10, sendQueueCapacity: 20_000 },
      { topics: [on], receiveHighWaterMark: 10 },
    );
    await warmUp(publisher, publications, on);
    const gaps: { missed: number }[] = [];
    subscriber.events.on('gap', (gap) => gaps.push(gap));
    // The subscriber reads nothing while 3,000 publications of ~4 KB are sent: more than the
    // high-water marks and kernel buffers hold, so the PUB socket drops some.
    const text = 'x'.repeat(4000);
    for (let n = 0; n < 3000; n += 1) publisher.publish(on, 'service.event', event({ n, text }));
    expect(await publisher.flush(10_000)).toBe(true);
    // A gap shows when the next publication arrives; what was dropped at the very end shows with
    // the marker published once the subscriber reads again.
    const marker = setInterval(() => publisher.publish(on, 'service.event', event({ marker: true })), 50);
    const received: Publication[] = [];
    try {
      for (let i = 0; i < 10_000; i += 1) {
        const next = await within(publications.next(), 5000, 'a publication');
        if (next.done) break;
        const data = dataOf(next.value.envelope);
        if (data['warmup'] !== true) received.push(next.value);
        if (data['marker'] === true) break;
      }
    } finally {
      clearInterval(marker);
    }
    expect(gaps.length).toBeGreaterThan(0);
    const missed = gaps.reduce((sum, gap) => sum + gap.missed, 0);
    expect(subscriber.stats.missed).toBe(missed);
    // Every sequence number between the first and last received is accounted for: delivered or reported missing.
    const first = received[0]!.seq;
    const last = received.at(-1)!.seq;
    expect(received.length + missed).toBe(last - first + 1);
  });

  it('numbers a publication refused by a full send queue, so subscribers see it as a gap', async () => {
    const on = topic('svc', 'refused');
    const { publisher, subscriber, publications } = await pair(transport, { sendQueueCapacity: 2 }, { topics: [on] });
    await warmUp(publisher, publications, on);
    const gaps: { missed: number }[] = [];
    subscriber.events.on('gap', (gap) => gaps.push(gap));
    // Published in one turn of the event loop: the queue takes two, the rest are refused.
    let refused = 0;
    for (let n = 0; n < 10; n += 1) {
      try {
        publisher.publish(on, 'service.event', event({ n }));
      } catch (error) {
        expect((error as Error).name).toBe('OverloadedError');
        refused += 1;
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(await publisher.flush(5_000)).toBe(true);
    publisher.publish(on, 'service.event', event({ marker: true }));
    const received = await take(publications, 10 - refused + 1);
    expect(dataOf(received.at(-1)!.envelope)['marker']).toBe(true);
    // Every number from the first to the marker is either received or reported missing.
    expect(gaps.reduce((sum, gap) => sum + gap.missed, 0)).toBe(refused);
    expect(received.length + refused).toBe(received.at(-1)!.seq - received[0]!.seq + 1);
  });

  it('subscribes and unsubscribes at runtime', async () => {
    const a = topic('a');
    const b = topic('b');
    const { publisher, subscriber, publications } = await pair(transport, {}, { topics: [a] });
    await warmUp(publisher, publications, a);
    subscriber.subscribe(b);
    subscriber.unsubscribe(a);
    await sleep(100); // let the subscription changes reach the publisher
    publisher.publish(a, 'service.event', event({ on: 'a' }));
    publisher.publish(b, 'service.event', event({ on: 'b' }));
    const [next] = await take(publications, 1);
    expect(next!.topic).toBe(b);
    expect(dataOf(next!.envelope)).toEqual({ on: 'b' });
  });
});

describe('Subscriber against a raw PUB peer', () => {
  /** A raw PUB socket and a Subscriber of `t/` joined to it (warmed up on `w/`: slow joiner). */
  async function rawPublisher(stamp?: LamportStamp) {
    const pub = new zmq.Publisher({ linger: 0 });
    cleanup.push(() => pub.close());
    await pub.bind('tcp://127.0.0.1:*');
    const subscriber = new Subscriber({ topics: ['t/', 'w/'], ...(stamp ? { stamp } : {}) });
    cleanup.push(() => subscriber.close());
    subscriber.connect(pub.lastEndpoint!);
    const publications = subscriber[Symbol.asyncIterator]();
    const body = (n: number, lc = n) => codec.encode({ v: 1, type: 'service.event', id: `id-${n}`, from: 'raw', lc, ts: 1, body: event({ n }) });
    const header = (s: number, n = 1, p = 'raw-1') => encode({ n, p, s });
    const first = publications.next();
    let warm = 0;
    const timer = setInterval(() => void pub.send(['w/', header((warm += 1), 1, 'warm'), body(0)]).catch(() => undefined), 10);
    await within(first, 5000, 'the first message');
    clearInterval(timer);
    return { pub, subscriber, publications, body, header };
  }

  it('counts and drops malformed messages and bodies, and reports restarts and lost starts', async () => {
    const { pub, subscriber, publications, body, header } = await rawPublisher();
    const resets: unknown[] = [];
    const gaps: unknown[] = [];
    subscriber.events.on('reset', (reset) => resets.push(reset));
    subscriber.events.on('gap', (gap) => gaps.push(gap));
    const before = subscriber.stats;
    await pub.send(['t/', header(1), body(1)]);
    const batch = (...bodies: Uint8Array[]) => Buffer.concat(bodies);
    const withProto = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x01])]);
    const garbage: (string | Uint8Array)[][] = [
      ['t/'], // no header
      ['t/', Buffer.from([0xc1]), body(2)], // header not MessagePack
      ['t/', encode({ p: 'raw-1', s: 2 }), body(2)], // header without n
      ['t/', encode({ n: 1, p: 'raw-1', s: 2, x: 1 }), body(2)], // header with an unknown key
      ['t/', header(2), body(2), body(2)], // a fourth frame
      ['t/', header(2, 2), body(2), body(2)], // one frame per body (not the format)
      ['t/', header(2, 2), body(2)], // header announces 2 bodies, the frame holds 1
      ['t/', header(2, 2), batch(body(2), body(2), body(2))], // ... or 3
      ['t/', header(2, 2), batch(body(2), body(2), Buffer.from([0x00]))], // a trailing byte
      ['t/', header(2, 2), batch(body(2), body(2).subarray(0, 20))], // the last body truncated
      ['t/', header(2, 2), batch(body(2), withProto)], // a __proto__ key
      ['t/', header(2), Buffer.from('not an envelope')], // bytes that are not one MessagePack value
      ['t/', header(2), encode({ not: 'an envelope' })], // a value that is not an envelope: the body alone is dropped (sequence 2 consumed)
    ];
    for (const frames of garbage) await pub.send(frames);
    await pub.send(['t/', header(3, 3), batch(body(3), encode({ x: 1 }), body(5))]); // the bad middle body alone is dropped
    await pub.send(['t/', header(2), body(102)]); // the publisher restarted and its first publication was lost
    await pub.send(['t/', header(1), body(100)]); // ... and restarted again
    const delivered = [];
    while (delivered.length < 5) {
      const next = await within(publications.next(), 5000, 'a publication');
      if (!next.done && next.value.topic === 't/') delivered.push(next);
    }
    expect(delivered.map((next) => (next.done ? undefined : [next.value.seq, dataOf(next.value.envelope)['n']]))).toEqual([
      [1, 1],
      [3, 3],
      [5, 5],
      [2, 102],
      [1, 100],
    ]);
    const stats = subscriber.stats;
    expect(stats.malformedMessages - before.malformedMessages).toBe(12);
    expect(stats.malformedBodies - before.malformedBodies).toBe(2);
    expect(stats.gaps - before.gaps).toBe(1);
    expect(gaps).toEqual([{ topic: 't/', publisher: 'raw-1', expected: 1, received: 2, missed: 1 }]);
    expect(resets).toEqual([{ topic: 't/', publisher: 'raw-1' }, { topic: 't/', publisher: 'raw-1' }]);
  });

  it('bounds what a hostile publisher can push: no gap from an implausible sequence jump, no header past 2^53 − 1, no clock beyond the Lamport bounds', async () => {
    const stamp = new LamportStamp('hostile-sub');
    const { pub, subscriber, publications, body, header } = await rawPublisher(stamp);
    const MAX = Number.MAX_SAFE_INTEGER;
    const gaps: unknown[] = [];
    subscriber.events.on('gap', (gap) => gaps.push(gap));
    const before = subscriber.stats;
    await pub.send(['t/', header(1), body(1)]);
    await pub.send(['t/', header(MAX - 1, 3), batch3()]); // s + n − 1 = 2^53 + 1: malformed
    await pub.send(['t/', header(2 ** 40), body(2, MAX - 1)]); // an implausible jump, carrying a hostile lc
    await pub.send(['t/', header(2 ** 40 + 1), body(3)]); // in order after the re-anchor
    const delivered: number[] = [];
    while (delivered.length < 3) {
      const next = await within(publications.next(), 5000, 'a publication');
      if (!next.done && next.value.topic === 't/') delivered.push(next.value.seq);
    }
    expect(delivered).toEqual([1, 2 ** 40, 2 ** 40 + 1]);
    const stats = subscriber.stats;
    expect(stats.malformedMessages - before.malformedMessages).toBe(1);
    expect(stats.implausibleSequences - before.implausibleSequences).toBe(1);
    expect(stats.gaps - before.gaps).toBe(0);
    expect(gaps).toEqual([]);
    expect(stamp.value).toBeLessThanOrEqual(2 ** 32 + 2 ** 16); // the hostile lc merged only within the bounds
    function batch3(): Buffer {
      return Buffer.concat([body(7), body(8), body(9)]);
    }
  });

  it('writes headers as canonical MessagePack {n, p, s}', async () => {
    const publisher = new Publisher({ publisherId: 'pub-x', batching: true });
    cleanup.push(() => publisher.close({ flushTimeout: 0 }));
    const endpoint = await publisher.bind('tcp://127.0.0.1:*');
    const sub = new zmq.Subscriber({ linger: 0 });
    cleanup.push(() => sub.close());
    sub.connect(endpoint);
    sub.subscribe('h/');
    let frames: Buffer[] | undefined;
    const receiving = sub.receive().then((received) => (frames = received));
    const timer = setInterval(() => {
      for (let i = 0; i < 3; i += 1) publisher.publish('h/', 'service.event', event({ i }));
    }, 10);
    await within(receiving, 5000, 'a message');
    clearInterval(timer);
    expect(frames).toHaveLength(3);
    const [topicFrame, headerFrame, bodies] = frames!;
    expect(topicFrame!.toString()).toBe('h/');
    const decoded = decode(headerFrame!) as { n: number; p: string; s: number };
    expect(Object.keys(decoded)).toEqual(['n', 'p', 's']);
    expect(decoded.p).toBe('pub-x');
    expect(Buffer.from(encode(decoded)).equals(headerFrame!)).toBe(true);
    // The bodies frame holds exactly n envelopes back to back (FRAMES.md §3.2).
    const envelopes = codec.decodeSequence(bodies!, decoded.n);
    expect(envelopes.map((envelope) => (envelope instanceof Error ? envelope.message : envelope.type))).toEqual(Array(decoded.n).fill('service.event'));
  });
});
