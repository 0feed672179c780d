// One-way throughput, DEALER → ROUTER over tcp: how fast envelopes get from one socket to another.
import { openSocket, type ManagedSocket } from '@correio/transport';
import * as zmq from 'zeromq';
import type { Scenario, Variant } from './measure.js';
import { codec, requestEnvelope, type Size } from './payloads.js';

export type OneWayVariant = 'rawBytes' | 'rawCodec' | 'correio';

export async function oneWay(size: Size, count: number): Promise<Scenario<OneWayVariant>> {
  const envelope = requestEnvelope(size);
  const bytes = codec.encode(envelope);
  const rawBytes = await rawPair();
  const rawCodec = await rawPair();
  const managed = await managedPair();
  return {
    variants: {
      // Raw zeromq.js moving pre-encoded bytes: the floor.
      rawBytes: rawRun(rawBytes, count, () => bytes, () => undefined),
      // Raw zeromq.js doing the same codec work as Correio: encode each envelope, decode each one.
      rawCodec: rawRun(rawCodec, count, () => codec.encode(envelope), (frame) => codec.decode(frame)),
      // Correio's ManagedSocket (bounded send queue, receive iterator) with the same codec work.
      correio: managedRun(managed, count, () => codec.encode(envelope), (frame) => codec.decode(frame)),
    },
    async close() {
      for (const pair of [rawBytes, rawCodec]) {
        pair.dealer.close();
        pair.router.close();
      }
      await managed.dealer.close();
      await managed.router.close();
    },
  };
}

async function rawPair(): Promise<{ dealer: zmq.Dealer; router: zmq.Router }> {
  const router = new zmq.Router({ linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(router.lastEndpoint!);
  return { dealer, router };
}

async function managedPair(): Promise<{ dealer: ManagedSocket; router: ManagedSocket }> {
  const router = openSocket('router', { linger: 0 });
  const endpoint = await router.bind('tcp://127.0.0.1:*');
  const dealer = openSocket('dealer', { linger: 0 });
  dealer.connect(endpoint);
  return { dealer, router };
}

function rawRun(pair: { dealer: zmq.Dealer; router: zmq.Router }, count: number, produce: () => Uint8Array, consume: (frame: Buffer) => unknown): Variant {
  return async () => {
    const receiving = (async () => {
      for (let received = 0; received < count; received += 1) {
        const [, frame] = await pair.router.receive();
        consume(frame!);
      }
    })();
    for (let i = 0; i < count; i += 1) await pair.dealer.send([produce()]);
    await receiving;
  };
}

function managedRun(pair: { dealer: ManagedSocket; router: ManagedSocket }, count: number, produce: () => Uint8Array, consume: (frame: Buffer) => unknown): Variant {
  return async () => {
    const receiving = (async () => {
      for (let received = 0; received < count; received += 1) {
        const [, frame] = (await pair.router.receive())!;
        consume(frame!);
      }
    })();
    for (let i = 0; i < count; i += 1) await pair.dealer.send([produce()]);
    await receiving;
  };
}
