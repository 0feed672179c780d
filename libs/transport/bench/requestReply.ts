// Request/reply round trips through an RFC 18 broker in another process, with N requests in flight.
import { newRequestId } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { RequestClient, Worker } from '@correio/transport';
import * as zmq from 'zeromq';
import { yieldToLoop, type Scenario } from './measure.js';
import { codec, params, type Size } from './payloads.js';

export type RequestReplyVariant = 'raw' | 'correio';

let scenarios = 0;

export async function requestReply(broker: string, size: Size, inFlight: number, count: number): Promise<Scenario<RequestReplyVariant>> {
  const body = { action: 'bench.echo', params: params(size) };
  // Fresh service names per scenario: workers of an earlier one must not be picked.
  scenarios += 1;
  const raw = rawClient(broker, `raw.${scenarios}.${size}.${inFlight}`, size, inFlight);
  const service = `correio.${scenarios}.${size}.${inFlight}`;
  const worker = new Worker({ endpoint: broker, service, concurrency: inFlight, handler: (request) => ({ result: request.body as never }) }).start();
  const client = new RequestClient({ endpoint: broker, timeout: 30_000 });
  // Every worker connection registered before measuring.
  await Promise.all(Array.from({ length: inFlight }, () => client.request(service, 'service.call.request', body)));
  await Promise.all(Array.from({ length: inFlight }, () => raw.one()));
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    variants: {
      raw: () => pipeline(count, inFlight, raw.one),
      correio: () => pipeline(count, inFlight, () => client.request(service, 'service.call.request', body)),
    },
    async close() {
      await client.close();
      await worker.stop({ drainTimeout: 0 });
      await raw.close();
    },
  };
}

/** Keeps `inFlight` requests going until `count` have completed. */
async function pipeline(count: number, inFlight: number, one: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      await one();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
}

/**
 * The same exchange on raw zeromq.js sockets with the same codec work (encode and decode every
 * envelope, match replies by id), but none of Correio's machinery: no send queue, timers, retries,
 * stamps, heartbeats or socket monitoring.
 */
function rawClient(broker: string, service: string, size: Size, inFlight: number): { one: () => Promise<AnyEnvelope>; close: () => Promise<void> } {
  const workers = Array.from({ length: inFlight }, () => rawWorker(broker, service));
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(broker);
  const pending = new Map<string, (reply: AnyEnvelope) => void>();
  const receiving = (async () => {
    try {
      for await (const [, , , body] of dealer) {
        const reply = codec.decode(body!);
        pending.get(reply.id)?.(reply);
        pending.delete(reply.id);
      }
    } catch {
      // closed
    }
  })();
  return {
    one: () => {
      const id = newRequestId();
      const envelope = { v: 1, type: 'service.call.request' as const, id, from: 'raw-client', lc: 1, ts: Date.now(), body: { action: 'bench.echo', params: params(size) } };
      const reply = new Promise<AnyEnvelope>((resolve) => pending.set(id, resolve));
      // At most `inFlight` (≤ 100) requests are queued, far below the high-water mark: never blocks.
      void dealer.send(['MDPC02', Buffer.of(1), service, codec.encode(envelope)]);
      return reply;
    },
    close: async () => {
      dealer.close();
      await receiving;
      for (const close of workers) close();
      await yieldToLoop();
    },
  };
}

function rawWorker(broker: string, service: string): () => void {
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(broker);
  void dealer.send(['MDPW02', Buffer.of(1), service]);
  void (async () => {
    try {
      for await (const [, command, client, , body] of dealer) {
        if (command![0] !== 0x02) continue;
        const request = codec.decode(body!);
        const reply = { v: 1, type: 'service.call.reply' as const, id: request.id, from: 'raw-worker', lc: 1, ts: Date.now(), body: { result: request.body as never } };
        await dealer.send(['MDPW02', Buffer.of(4), client!, Buffer.alloc(0), codec.encode(reply)]);
      }
    } catch {
      // closed
    }
  })();
  return () => {
    // Leave the broker the way a correct worker does: DISCONNECT, then close.
    void dealer.send(['MDPW02', Buffer.of(6)]).finally(() => dealer.close());
  };
}
