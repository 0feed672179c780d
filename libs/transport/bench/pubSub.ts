// Publish/subscribe throughput over tcp, batched and unbatched, publisher and subscriber in one process.
import { decodePublicationHeader, encodePublicationHeader, Publisher, Subscriber, type Publication } from '@correio/transport';
import * as zmq from 'zeromq';
import { yieldToLoop, type Scenario, type Variant } from './measure.js';
import { codec, eventEnvelope, params, type Size } from './payloads.js';

export type PubSubVariant = 'raw' | 'unbatched' | 'batched';

const TOPIC = 'svc/bench.tick/';
const CHUNK = 1000;

export async function pubSub(size: Size, count: number, maxBatch: number): Promise<Scenario<PubSubVariant>> {
  const raw = await rawPair(size);
  const unbatched = await correioPair(size, false);
  const batched = await correioPair(size, { maxBatch });
  return {
    variants: { raw: raw.run(count), unbatched: unbatched.run(count), batched: batched.run(count) },
    async close() {
      await raw.close();
      await unbatched.close();
      await batched.close();
    },
  };
}

/**
 * A few warm-up publications may still be in flight when measuring starts; they shift a run's
 * count by a handful out of tens of thousands, well below the noise.
 */
async function correioPair(size: Size, batching: false | { maxBatch: number }): Promise<{ run: (count: number) => Variant; close: () => Promise<void> }> {
  const publisher = new Publisher({ batching, sendHighWaterMark: 0, sendQueueCapacity: CHUNK * 4, linger: 0 });
  const endpoint = await publisher.bind('tcp://127.0.0.1:*');
  const subscriber = new Subscriber({ topics: [TOPIC], receiveHighWaterMark: 0 });
  subscriber.connect(endpoint);
  const publications: AsyncIterator<Publication> = subscriber[Symbol.asyncIterator]();
  const body = { event: 'bench.tick', data: params(size), sender: 'bench' };
  const first = publications.next();
  const warmUp = setInterval(() => publisher.publish(TOPIC, 'service.event', body), 5);
  await first;
  clearInterval(warmUp);
  return {
    run: (count) => async () => {
      const receiving = (async () => {
        for (let received = 0; received < count; received += 1) await publications.next();
      })();
      for (let sent = 0; sent < count; sent += CHUNK) {
        for (let i = 0; i < CHUNK; i += 1) publisher.publish(TOPIC, 'service.event', body);
        await publisher.flush();
        await yieldToLoop();
      }
      await receiving;
    },
    close: async () => {
      await publisher.close({ flushTimeout: 0 });
      await subscriber.close();
    },
  };
}

/** Raw zeromq.js PUB/SUB with the same frames and codec work, one publication per message. */
async function rawPair(size: Size): Promise<{ run: (count: number) => Variant; close: () => Promise<void> }> {
  const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 });
  await pub.bind('tcp://127.0.0.1:*');
  const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
  sub.connect(pub.lastEndpoint!);
  sub.subscribe(TOPIC);
  let seq = 0;
  const publish = (): Promise<void> => {
    seq += 1;
    return pub.send([TOPIC, encodePublicationHeader({ p: 'raw', s: seq, n: 1 }), codec.encode(eventEnvelope(size))]);
  };
  const receive = async (): Promise<void> => {
    const [, header, body] = await sub.receive();
    decodePublicationHeader(header!);
    codec.decode(body!);
  };
  const first = receive();
  const warmUp = setInterval(() => void publish(), 5);
  await first;
  clearInterval(warmUp);
  return {
    run: (count) => async () => {
      const receiving = (async () => {
        for (let received = 0; received < count; received += 1) await receive();
      })();
      for (let sent = 0; sent < count; sent += CHUNK) {
        for (let i = 0; i < CHUNK; i += 1) await publish();
        await yieldToLoop();
      }
      await receiving;
    },
    close: async () => {
      pub.close();
      sub.close();
    },
  };
}
