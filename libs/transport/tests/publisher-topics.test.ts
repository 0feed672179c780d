// A publisher whose topics follow names clients choose keeps sequence numbers for at most
// maxTopics of them: a forgotten topic starts again at 1, which a subscriber takes as a restart.
import { Publisher, Subscriber, topic, type Publication } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import { bindAddress } from './helpers/endpoints.js';
import { within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

const body = (n: number) => ({ event: 'test.happened', data: { n }, sender: 'tester' });

describe('Publisher topics', () => {
  it('forgets the least recently used topic beyond maxTopics; publishing there again restarts at 1, a reset and no gap for subscribers', async () => {
    const publisher = new Publisher({ from: 'pub-1', maxTopics: 2 });
    cleanup.push(() => publisher.close({ flushTimeout: 0 }));
    const subscriber = new Subscriber({ topics: ['svc/'] });
    cleanup.push(() => subscriber.close());
    subscriber.connect(await publisher.bind(bindAddress('tcp', 'topics')));
    const resets: unknown[] = [];
    subscriber.events.on('reset', (reset) => resets.push(reset));
    const publications = subscriber[Symbol.asyncIterator]();
    // Warm up on a topic of its own until the subscription has reached the publisher.
    const warmup = setInterval(() => publisher.publish(topic('svc', 'warmup'), 'service.event', body(-1)), 10);
    try {
      await within(publications.next(), 5_000, 'the first publication');
    } finally {
      clearInterval(warmup);
    }
    const [a, b, c] = [topic('svc', 'a'), topic('svc', 'b'), topic('svc', 'c')];
    const seqs = [a, b, a, c, b].map((on, n) => publisher.publish(on, 'service.event', body(n)));
    // b was the least recently used when c came, so it starts over.
    expect(seqs).toEqual([1, 1, 2, 1, 1]);
    const received: Publication[] = [];
    while (received.length < 5) {
      const next = await within(publications.next(), 5_000, 'a publication');
      if (next.done) break;
      if (next.value.topic !== topic('svc', 'warmup')) received.push(next.value);
    }
    expect(received.map((publication) => [publication.topic, publication.seq])).toEqual([
      [a, 1],
      [b, 1],
      [a, 2],
      [c, 1],
      [b, 1],
    ]);
    expect(resets).toEqual([{ topic: b, publisher: publisher.id }]);
    expect(subscriber.stats).toMatchObject({ gaps: 0, missed: 0 });
  });
});
