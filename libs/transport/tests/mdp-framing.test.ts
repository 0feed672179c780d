// RFC 18 (MDP/0.2) framing, classic and packed (FRAMES.md §1.12), checked frame by frame against raw ZeroMQ peers.
import type { AnyEnvelope } from '@correio/protocol';
import { RequestClient, Worker } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, TRANSPORTS } from './helpers/endpoints.js';
import { packed } from './helpers/frames.js';
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

/** A worker on `router` that sends one PARTIAL, then echoes; framed as `framing` says, or by default. */
function partialEchoWorker(router: zmq.Router, framing?: 'classic' | 'packed'): Worker {
  const worker = new Worker({
    ...(framing ? { framing } : {}),
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
  return worker;
}

const text = (frame: Buffer | undefined): string | undefined => frame?.toString();
const isCommand = (header: string, command: number) => (frames: Buffer[]) => text(frames[1]) === header && frames[2]?.length === 1 && frames[2][0] === command;

describe.each(TRANSPORTS)('MDP/0.2 classic framing over %s', (transport) => {
  it('client: REQUEST is ["MDPC02", 0x01, service, body]; PARTIAL and FINAL are matched by envelope id', async () => {
    const router = await rawRouter(transport);
    const client = new RequestClient({ framing: 'classic', endpoint: router.lastEndpoint!, timeout: 5000 });
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
    const worker = partialEchoWorker(router, 'classic');

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

describe.each(TRANSPORTS)('MDP/0.2 packed framing (revision 1.10) over %s', (transport) => {
  it('client: REQUEST is ["MDPC02" 0x01 service, body] by default; it takes PARTIAL and FINAL in either framing', async () => {
    const router = await rawRouter(transport);
    const client = new RequestClient({ endpoint: router.lastEndpoint!, timeout: 5000 });
    cleanup.push(() => client.close());
    const partials: AnyEnvelope[] = [];
    const reply = client.request('echo', 'service.call.request', echoBody({ n: 1 }), { onPartial: (partial) => partials.push(partial) });

    const frames = await within(router.receive(), 5000, 'the REQUEST');
    expect(frames).toHaveLength(3);
    const [identity, header, body] = frames as [Buffer, Buffer, Buffer];
    expect(header.toString('hex')).toBe('4d4450433032' + '01' + '6563686f'); // "MDPC02" 0x01 "echo"
    const request = codec.decode(body);
    expect(request).toMatchObject({ v: 1, type: 'service.call.request', body: echoBody({ n: 1 }) });

    await router.send([identity, packed('MDPC02', 0x02, 'echo'), replyBytes(request.id, { part: 1 })]);
    await router.send([identity, 'MDPC02', Buffer.of(0x02), 'echo', replyBytes(request.id, { part: 2 })]);
    await router.send([identity, packed('MDPC02', 0x03, 'echo'), replyBytes(request.id, { done: true })]);
    const final = await reply;
    expect(final).toMatchObject({ type: 'service.call.reply', id: request.id, body: { result: { done: true } } });
    expect(partials.map((partial) => partial.body)).toEqual([{ result: { part: 1 } }, { result: { part: 2 } }]);
  });

  it('client: packed replies that are malformed are dropped and counted; the request still completes', async () => {
    const router = await rawRouter(transport);
    const client = new RequestClient({ endpoint: router.lastEndpoint!, timeout: 5000 });
    cleanup.push(() => client.close());
    const reply = client.request('echo', 'service.call.request', echoBody({ n: 2 }));
    const [identity, , body] = (await within(router.receive(), 5000, 'the REQUEST')) as [Buffer, Buffer, Buffer];
    const id = codec.decode(body).id;
    const garbage: (Buffer | Uint8Array | string)[][] = [
      [packed('MDPC02', 0x03, 'echo')], // no body
      [packed('MDPC02', 0x09, 'echo'), replyBytes(id)], // unknown command
      [packed('MDPC02', 0x03, 'bad service'), replyBytes(id)], // invalid service name
      [packed('MDPC02', 0x03), replyBytes(id)], // no service at all
      [packed('MDPC01', 0x03, 'echo'), replyBytes(id)], // another protocol
      [packed('MDPC02', 0x01, 'echo'), replyBytes(id)], // a REQUEST sent to a client
    ];
    for (const frames of garbage) await router.send([identity, ...frames]);
    await router.send([identity, packed('MDPC02', 0x03, 'echo'), replyBytes(id, { ok: true })]);
    expect(await reply).toMatchObject({ id, body: { result: { ok: true } } });
    expect(client.stats.malformedReplies).toBe(garbage.length);
  });

  it('worker: READY, HEARTBEAT and DISCONNECT are packed by default; each reply is framed as its REQUEST was', async () => {
    const router = await rawRouter(transport);
    const worker = partialEchoWorker(router);
    const isPacked = (command: number) => (frames: Buffer[]) => frames[1]!.length >= 7 && frames[1]!.subarray(0, 6).toString() === 'MDPW02' && frames[1]![6] === command;

    const ready = await within(router.receive(), 5000, 'READY');
    expect(ready).toHaveLength(2);
    const [identity, header] = ready as [Buffer, Buffer];
    expect(header.equals(packed('MDPW02', 0x01, 'echo'))).toBe(true);

    const heartbeat = await receiveMatching(router, isPacked(0x05));
    expect(heartbeat).toHaveLength(2);
    expect(heartbeat[1]!.equals(packed('MDPW02', 0x05))).toBe(true);

    const client = Buffer.from([0x00, 0x6b, 0x8b, 0x45, 0x67]);
    await router.send([identity, packed('MDPW02', 0x02, client), requestBytes('req-1', { n: 7 })]);
    const partial = await receiveMatching(router, isPacked(0x03));
    expect(partial).toHaveLength(3);
    expect(partial[1]!.equals(packed('MDPW02', 0x03, client))).toBe(true);
    expect(codec.decode(partial[2]!)).toMatchObject({ type: 'service.call.reply', id: 'req-1', body: { result: { progress: 50 } } });
    const final = await receiveMatching(router, isPacked(0x04));
    expect(final).toHaveLength(3);
    expect(final[1]!.equals(packed('MDPW02', 0x04, client))).toBe(true);
    expect(codec.decode(final[2]!)).toMatchObject({ type: 'service.call.reply', id: 'req-1', body: { result: { n: 7 } } });

    // A classic REQUEST on the same connection is answered classic.
    await router.send([identity, 'MDPW02', Buffer.of(0x02), client, Buffer.alloc(0), requestBytes('req-2', { n: 8 })]);
    const classicFinal = await receiveMatching(router, isCommand('MDPW02', 0x04));
    expect(classicFinal).toHaveLength(6);
    expect(classicFinal[3]!.equals(client)).toBe(true);
    expect(codec.decode(classicFinal[5]!)).toMatchObject({ id: 'req-2', body: { result: { n: 8 } } });

    const stopped = worker.stop();
    const disconnect = await receiveMatching(router, isPacked(0x06));
    expect(disconnect).toHaveLength(2);
    expect(disconnect[1]).toHaveLength(7);
    await stopped;
  });

  it('worker: malformed packed commands are dropped and counted; the connection keeps serving', async () => {
    const router = await rawRouter(transport);
    const worker = new Worker({ endpoint: router.lastEndpoint!, service: 'echo', heartbeatInterval: 100, liveness: 1000, handler: echoResult }).start();
    cleanup.push(() => worker.stop({ drainTimeout: 0 }));
    const [identity] = (await within(router.receive(), 5000, 'READY')) as [Buffer];
    const garbage: (Buffer | Uint8Array | string)[][] = [
      [packed('MDPW02', 0x02), requestBytes('no-client')], // REQUEST without a client address
      [packed('MDPW02', 0x02, 'c')], // REQUEST without a body
      [packed('MDPW02', 0x05, 'x')], // HEARTBEAT with a tail
      [packed('MDPW02', 0x06), 'x'], // DISCONNECT with a body
      [packed('MDPW02', 0x42, 'c'), requestBytes('unknown')], // unknown command
      [packed('MDPW02', 0x01, 'echo')], // READY sent to a worker
    ];
    for (const frames of garbage) await router.send([identity, ...frames]);
    await router.send([identity, packed('MDPW02', 0x02, 'c'), requestBytes('good', { ok: 1 })]);
    const final = await receiveMatching(router, (frames) => frames[1]![6] === 0x04);
    expect(codec.decode(final[2]!)).toMatchObject({ id: 'good', body: { result: { ok: 1 } } });
    expect(worker.stats.malformedMessages).toBe(garbage.length);
    expect(worker.stats.reconnects).toBe(0);
  });
});

describe('CORREIO_MDP_FRAMING', () => {
  const withFraming = async (value: string, body: () => Promise<void> | void): Promise<void> => {
    const before = process.env['CORREIO_MDP_FRAMING'];
    process.env['CORREIO_MDP_FRAMING'] = value;
    try {
      await body();
    } finally {
      if (before === undefined) delete process.env['CORREIO_MDP_FRAMING'];
      else process.env['CORREIO_MDP_FRAMING'] = before;
    }
  };

  it('classic makes a worker and a client given no framing speak classic (a rolling upgrade behind an older broker)', async () => {
    const router = await rawRouter('tcp');
    await withFraming('classic', async () => {
      const worker = new Worker({ endpoint: router.lastEndpoint!, service: 'echo', heartbeatInterval: 100, liveness: 1000, handler: echoResult }).start();
      cleanup.push(() => worker.stop({ drainTimeout: 0 }));
      const client = new RequestClient({ endpoint: router.lastEndpoint!, timeout: 5000 });
      cleanup.push(() => client.close());
      void client.request('echo', 'service.call.request', echoBody({ n: 1 })).catch(() => undefined);
      const seen = [await within(router.receive(), 5000, 'a message'), await within(router.receive(), 5000, 'a message')];
      expect(seen.map((frames) => frames[1]!.toString()).sort()).toEqual(['MDPC02', 'MDPW02']);
    });
  });

  it('refuses a value other than packed or classic, naming it', async () => {
    await withFraming('compact', () => {
      expect(() => new RequestClient({ endpoint: 'tcp://127.0.0.1:1' })).toThrow(/CORREIO_MDP_FRAMING must be packed or classic, not "compact"/);
    });
  });
});
