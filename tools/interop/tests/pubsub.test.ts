// Pub/sub batches across languages (FRAMES.md §3.2, §3.5): a message is [topic, header, bodies]
// with the n envelopes of a batch back to back in one frame. A TypeScript Publisher's batches
// reach pyzmq and Go subscribers through the proxy, and Python and Go batches reach a TypeScript
// Subscriber, every body numbered in order, none lost, no gap reported.
import { join } from 'node:path';
import type { BodyOf } from '@correio/protocol';
import { killAll, scratchDir, spawnCommand, waitFor } from '@correio/testing';
import { Publisher, Subscriber, type Publication } from '@correio/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoPrograms, requirePeerToolchains, spawnPython, startTopology, type GoPrograms } from '../src/index.js';

const STARTUP_MS = 300_000;
const scratch = scratchDir('correio-interop-pubsub-');
let proxy: { readonly publishers: string; readonly subscribers: string };
let go: GoPrograms;

beforeAll(async () => {
  requirePeerToolchains();
  const [topology, programs] = await Promise.all([startTopology({ dataDir: scratch.dir, proxy: true }), buildGoPrograms(join(scratch.dir, 'bin'))]);
  proxy = topology.proxy!;
  go = programs;
}, STARTUP_MS);

afterAll(async () => {
  await killAll();
  scratch.remove();
});

interface Line {
  readonly seq?: number;
  readonly publisher?: string;
  readonly topic?: string;
  readonly type?: string;
  readonly body?: { readonly text?: string };
  readonly gap?: unknown;
}

function publication(n: number, text: string): BodyOf<'chat.publication'> {
  const now = Date.now();
  return { op: { origin: 'ts-batcher', seq: n }, channel: 'interop', user: 'ts', text, lc: n, hlc: [now, 0], ts: now };
}

describe('pub/sub batches across languages', () => {
  it('a TypeScript publisher batches, Python and Go subscribers unpack them', async () => {
    const topic = 'chan/interop/';
    const subscribers = [
      spawnPython('python subscriber', 'pubsub_peer', ['subscribe', '--endpoint', proxy.subscribers, '--topic', topic, '--count', '1000000']),
      spawnCommand('go subscriber', go.pubsub, ['subscribe', '--endpoint', proxy.subscribers, '--topic', topic, '--count', '1000000']),
    ];
    for (const child of subscribers) await child.waitForLine(/"ready": ?true/, STARTUP_MS);
    const publisher = new Publisher({ publisherId: 'ts-batcher', batching: { maxBatch: 50 }, linger: 0 });
    publisher.connect(proxy.publishers);
    try {
      // Probes until both subscriptions have reached the publisher through the proxy.
      let probes = 0;
      const probing = setInterval(() => publisher.publish(topic, 'chat.publication', publication((probes += 1), 'probe')), 50);
      try {
        for (const child of subscribers) await child.waitForLine(/"probe"/, 30_000);
      } finally {
        clearInterval(probing);
      }
      const before = publisher.stats.messages;
      // Published in one go: all but the first queue behind a pending send, so they go out batched.
      const first = publisher.publish(topic, 'chat.publication', publication(1000, 'n0'));
      for (let n = 1; n < 300; n += 1) publisher.publish(topic, 'chat.publication', publication(1000 + n, `n${n}`));
      expect(await publisher.flush(10_000)).toBe(true);
      expect(publisher.stats.messages - before).toBeLessThan(300);
      for (const child of subscribers) {
        const received = await child.waitFor(() => {
          const got = child.events<Line>().filter((line) => line.body?.text?.startsWith('n'));
          return got.length >= 300 && got;
        }, 'the 300 publications', 30_000);
        expect(received.map((line) => line.body!.text)).toEqual(Array.from({ length: 300 }, (_, n) => `n${n}`));
        expect(received.map((line) => line.seq)).toEqual(Array.from({ length: 300 }, (_, n) => first + n));
        expect(new Set(received.map((line) => `${line.topic} ${line.publisher} ${line.type}`))).toEqual(new Set([`${topic} ts-batcher chat.publication`]));
        expect(child.events<Line>().filter((line) => line.gap !== undefined)).toEqual([]);
      }
    } finally {
      await publisher.close({ flushTimeout: 0 });
      for (const child of subscribers) child.kill();
    }
  }, 120_000);

  it('Python and Go publishers batch, a TypeScript subscriber unpacks them', async () => {
    const subscriber = new Subscriber({ topics: ['chan/from-py/', 'chan/from-go/'] });
    subscriber.connect(proxy.subscribers);
    const received: Publication[] = [];
    const receiving = (async () => {
      for await (const publication of subscriber) received.push(publication);
    })();
    const gaps: unknown[] = [];
    subscriber.events.on('gap', (gap) => gaps.push(gap));
    const args = (topic: string, id: string) => ['publish', '--endpoint', proxy.publishers, '--topic', topic, '--batches', '4', '--size', '50', '--type', 'chat.publication', '--id', id];
    const python = spawnPython('python publisher', 'pubsub_peer', args('chan/from-py/', 'py-batcher'));
    const golang = spawnCommand('go publisher', go.pubsub, args('chan/from-go/', 'go-batcher'), { stdin: 'pipe' });
    try {
      // The Go publisher waits for the subscription itself; the Python one is told to go a
      // moment after it connected, once the proxy has forwarded the subscription to it.
      golang.write('go');
      await python.waitForLine(/"ready": true/, STARTUP_MS);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      python.write('go');
      for (const child of [python, golang]) {
        const { code } = await child.exited;
        if (code !== 0) throw child.failure(`exited with ${code}`);
        expect(child.events<Line>().at(-1)).toEqual({ published: 200 });
      }
      await waitFor(() => received.length >= 400, 'the 400 publications', 30_000);
      for (const [topic, publisher] of [
        ['chan/from-py/', 'py-batcher'],
        ['chan/from-go/', 'go-batcher'],
      ] as const) {
        const mine = received.filter((publication) => publication.topic === topic);
        expect(mine.map((publication) => publication.seq)).toEqual(Array.from({ length: 200 }, (_, n) => n + 1));
        expect(new Set(mine.map((publication) => `${publication.publisher} ${publication.envelope.type}`))).toEqual(new Set([`${publisher} chat.publication`]));
        expect(mine.every((publication) => /^b\d+-\d+$/.test((publication.envelope.body as { text: string }).text))).toBe(true);
      }
      expect(gaps).toEqual([]);
      // 400 publications in 8 messages: batches, not one message per body.
      expect(subscriber.stats).toMatchObject({ received: 400, messages: 8, malformedMessages: 0, malformedBodies: 0 });
    } finally {
      python.kill();
      golang.kill();
      await subscriber.close();
      await receiving;
    }
  }, 120_000);
});

