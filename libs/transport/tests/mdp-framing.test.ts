// RFC 18 (MDP/0.2) framing, checked frame by frame against raw ZeroMQ peers.
import type { AnyEnvelope } from '@correio/protocol';
import { RequestClient, Worker } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, TRANSPORTS } from './helpers/endpoints.js';
import { codec, echoBody, echoResult, replyBytes, requestBytes } from './helpers/messages.js';
import { within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function rawRouter(transport: (typeof TRANSPORTS)[number]): Promise<zmq.Router> {
  const router = new zmq.Router({ linger: 0 });
  cleanup.push(() => router.close());
  await router.bind(bindAddress(transport, 'mdp'));
  return router;
}

/** The next message whose frames satisfy `accept`, skipping others (heartbeats, say). */
async function receiveMatching(socket: zmq.Router, accept: (frames: Buffer[]) => boolean): Promise<Buffer[]> {
  for (let i = 0; i < 1000; i += 1) {
    const frames = await within(socket.receive(), 5000, 'a message from the peer');
    if (accept(frames)) return frames;
  }
  throw new Error('no matching message in 1000');
}

const text = (frame: Buffer | undefined): string | undefined => frame?.toString();
const isCommand = (header: string, command: number) => (frames: Buffer[]) => text(frames[1]) === header && frames[2]?.length === 1 && frames[2][0] === command;

describe.each(TRANSPORTS)('MDP/0.2 framing over %s', (transport) => {
  it('client: REQUEST is ["MDPC02", 0x01, service, body]; PARTIAL and FINAL are matched by envelope id', async () => {
    const router = await rawRouter(transport);
    const client = new RequestClient({ endpoint: router.lastEndpoint!, timeout: 5000 });
    cleanup.push(() => client.close());
    const partials: AnyEnvelope[] = [];
    const reply = client.request('echo', 'service.call.request', echoBody({ n: 1 }), { onPartial: (partial) => partials.push(partial) });

    const frames = await within(router.receive(), 5000, 'the REQUEST');
    expect(frames).toHaveLength(5);
    const [identity, header, command, service, body] = frames as [Buffer, Buffer, Buffer, Buffer, Buffer];
    expect(text(header)).toBe('MDPC02');
    expect([...command]).toEqual([0x01]);
    expect(text(service)).toBe('echo');
    const request = codec.decode(body);
    expect(request).toMatchObject({ v: 1, type: 'service.call.request', body: echoBody({ n: 1 }) });

    await router.send([identity, 'MDPC02', Buffer.of(0x02), 'echo', replyBytes(request.id, { part: 1 })]);
    await router.send([identity, 'MDPC02', Buffer.of(0x03), 'echo', replyBytes(request.id, { done: true })]);
    const final = await reply;
    expect(final).toMatchObject({ type: 'service.call.reply', id: request.id, body: { result: { done: true } } });
    expect(partials.map((partial) => partial.body)).toEqual([{ result: { part: 1 } }]);
  });

  it('worker: READY, REQUEST, PARTIAL, FINAL, HEARTBEAT and DISCONNECT frames', async () => {
    const router = await rawRouter(transport);
    const worker = new Worker({
      endpoint: router.lastEndpoint!,
      service: 'echo',
      heartbeatInterval: 100,
      liveness: 1000,
      handler: async (request, context) => {
        await context.partial({ result: { progress: 50 } });
        return echoResult(request);
      },
    }).start();
    cleanup.push(() => worker.stop({ drainTimeout: 0 }));

    const ready = await within(router.receive(), 5000, 'READY');
    expect(ready).toHaveLength(4);
    const [identity, header, command, service] = ready as [Buffer, Buffer, Buffer, Buffer];
    expect(text(header)).toBe('MDPW02');
    expect([...command]).toEqual([0x01]);
    expect(text(service)).toBe('echo');

    const heartbeat = await receiveMatching(router, isCommand('MDPW02', 0x05));
    expect(heartbeat).toHaveLength(3);
    expect(heartbeat[0]!.equals(identity)).toBe(true);

    const client = Buffer.from('client-address-1');
    await router.send([identity, 'MDPW02', Buffer.of(0x02), client, Buffer.alloc(0), requestBytes('req-1', { n: 7 })]);

    const partial = await receiveMatching(router, isCommand('MDPW02', 0x03));
    expect(partial).toHaveLength(6);
    expect(partial[3]!.equals(client)).toBe(true);
    expect(partial[4]).toHaveLength(0);
    expect(codec.decode(partial[5]!)).toMatchObject({ type: 'service.call.reply', id: 'req-1', body: { result: { progress: 50 } } });

    const final = await receiveMatching(router, isCommand('MDPW02', 0x04));
    expect(final).toHaveLength(6);
    expect(final[3]!.equals(client)).toBe(true);
    expect(final[4]).toHaveLength(0);
    expect(codec.decode(final[5]!)).toMatchObject({ type: 'service.call.reply', id: 'req-1', body: { result: { n: 7 } } });

    const stopped = worker.stop();
    const disconnect = await receiveMatching(router, isCommand('MDPW02', 0x06));
    expect(disconnect).toHaveLength(3);
    expect(disconnect[0]!.equals(identity)).toBe(true);
    await stopped;
  });
});
