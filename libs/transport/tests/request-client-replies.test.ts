// RequestClient against replies that are wrong in content rather than in framing: a reply of a type
// its request does not declare, and replies that are not envelopes. A raw ROUTER plays the broker,
// so each test decides exactly what comes back.
import { BadRequestError, DecodeError, encode, NotFoundError, OverloadedError, TimeoutError, UnknownTypeError } from '@correio/codec';
import { MajordomoBroker, MalformedReplyError, RequestClient, UnexpectedReplyError } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { MDPW, RawWorker, W, byte, closePeers } from './broker-peers.js';
import { bindAddress, NETWORK_TRANSPORTS } from './helpers/endpoints.js';
import { codec, echoBody, replyBytes, resultOf } from './helpers/messages.js';
import { waitFor, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  closePeers();
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** Long enough that a test waiting for it would hit vitest's own time-out: failures here must come at once. */
const NEVER = 60_000;

function client(endpoint: string): RequestClient {
  const created = new RequestClient({ framing: 'classic', endpoint, timeout: NEVER });
  cleanup.push(() => created.close());
  return created;
}

/** A raw ROUTER standing in for the broker: it receives each request and answers whatever the test says. */
async function fakeBroker(address: string) {
  const router = new zmq.Router({ linger: 0 });
  cleanup.push(() => router.close());
  await router.bind(address);
  return {
    endpoint: router.lastEndpoint!,
    /** The next request: the client's routing id and its envelope id. */
    async next(): Promise<{ peer: Buffer; id: string }> {
      const [peer, , , service, body] = await within(router.receive(), 5_000, 'a request');
      return { peer: peer!, id: service!.toString().startsWith('mmi.') ? '' : codec.decode(body!).id };
    },
    replyRaw(peer: Buffer, service: string, ...body: string[]): Promise<void> {
      return router.send([peer, 'MDPC02', Buffer.of(0x03), service, ...body]);
    },
    reply(peer: Buffer, kind: 'partial' | 'final', ...body: (Buffer | Uint8Array)[]): Promise<void> {
      return router.send([peer, 'MDPC02', Buffer.of(kind === 'final' ? 0x03 : 0x02), 'echo', ...body]);
    },
  };
}

function errorBytes(id: string, code: string): Uint8Array {
  return codec.encode({ v: 1, type: 'error', id, from: 'raw-peer', lc: 1, ts: Date.now(), body: { code: code as 'DECODE', message: 'bad', retryable: false } });
}

describe.each(NETWORK_TRANSPORTS)('RequestClient reply checks over %s', (transport) => {
  it('a worker that echoes the request back fails the request with UnexpectedReplyError', async () => {
    const broker = new MajordomoBroker({ endpoints: [bindAddress(transport, 'echo-broker')], id: 'broker-replies' });
    await broker.start();
    cleanup.push(() => broker.close());
    const worker = await new RawWorker(broker.endpoints[0]!, 'echo').ready();
    const requests = client(broker.endpoints[0]!);
    const reply = requests.request('echo', 'service.call.request', echoBody({ n: 1 })).catch((error: unknown) => error);
    const received = await worker.nextRequest();
    await worker.socket.send([MDPW, byte(W.FINAL), received.client, Buffer.alloc(0), ...received.body]);
    const failure = await reply;
    expect(failure).toBeInstanceOf(UnexpectedReplyError);
    expect(failure).toMatchObject({
      code: 'VALIDATION',
      retryable: false,
      data: { service: 'echo', id: received.envelope.id, expected: 'service.call.reply', got: 'service.call.request' },
    });
    expect(requests.stats).toMatchObject({ unexpectedReplies: 1, replies: 0, inFlight: 0 });
  });

  it('a PARTIAL of the wrong type fails the request too; PARTIALs of the reply type and error FINALs stay valid', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'partials'));
    const requests = client(raw.endpoint);
    const partials: string[] = [];
    const good = requests.request('echo', 'service.call.request', echoBody({}), { onPartial: (partial) => partials.push(partial.type) });
    const first = await raw.next();
    await raw.reply(first.peer, 'partial', replyBytes(first.id, { part: 1 }));
    await raw.reply(first.peer, 'final', replyBytes(first.id, { done: true }));
    expect(resultOf(await good)).toEqual({ done: true });
    expect(partials).toEqual(['service.call.reply']);

    const failing = requests.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    const second = await raw.next();
    await raw.reply(second.peer, 'final', errorBytes(second.id, 'NOT_FOUND'));
    expect(await failing).toBeInstanceOf(NotFoundError);

    const confused = requests.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    const third = await raw.next();
    await raw.reply(third.peer, 'partial', errorBytes(third.id, 'NOT_FOUND'));
    expect(await confused).toMatchObject({ name: 'UnexpectedReplyError', data: { got: 'error' } });
  });

  it('a reply that is not MessagePack fails the only request due from its service at once, with MalformedReplyError', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'garbage'));
    const requests = client(raw.endpoint);
    const reply = requests.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    const { peer } = await raw.next();
    await raw.reply(peer, 'final', Buffer.from([0xc1, 0xff]));
    const failure = await reply;
    expect(failure).toBeInstanceOf(MalformedReplyError);
    expect(failure).toMatchObject({ code: 'DECODE', retryable: false, data: { service: 'echo', reason: 'DECODE' } });
    expect((failure as Error).cause).toBeInstanceOf(DecodeError);
    expect(requests.stats).toMatchObject({ malformedReplies: 1, inFlight: 0 });
  });

  it('a reply that yields an id but is no valid envelope fails that request, whatever else is in flight', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'invalid'));
    const requests = client(raw.endpoint);
    const a = requests.request('echo', 'service.call.request', echoBody({ n: 'a' })).catch((error: unknown) => error);
    const b = requests.request('echo', 'service.call.request', echoBody({ n: 'b' }));
    const first = await raw.next();
    const second = await raw.next();
    await raw.reply(first.peer, 'final', encode({ v: 1, type: 'no.such.type', id: first.id, from: 'x', lc: 1, ts: 1, body: {} }));
    const failure = await a;
    expect(failure).toBeInstanceOf(MalformedReplyError);
    expect((failure as Error).cause).toBeInstanceOf(UnknownTypeError);
    // Two body frames: the first still names the request.
    const c = requests.request('echo', 'service.call.request', echoBody({ n: 'c' })).catch((error: unknown) => error);
    const third = await raw.next();
    await raw.reply(third.peer, 'final', replyBytes(third.id), replyBytes(third.id));
    expect(await c).toBeInstanceOf(MalformedReplyError);
    await raw.reply(second.peer, 'final', replyBytes(second.id, { n: 'b' }));
    expect(resultOf(await b)).toEqual({ n: 'b' });
  });

  it('an unreadable reply that could be any of several requests fails none of them: counted, dropped', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'ambiguous'));
    const requests = client(raw.endpoint);
    const a = requests.request('echo', 'service.call.request', echoBody({ n: 1 }));
    const b = requests.request('echo', 'service.call.request', echoBody({ n: 2 }));
    const first = await raw.next();
    const second = await raw.next();
    await raw.reply(first.peer, 'final', Buffer.from([0xc1]));
    // Replies travel in order on one connection: once these are in, the garbage was seen and dropped.
    await raw.reply(first.peer, 'final', replyBytes(first.id, { n: 1 }));
    await raw.reply(second.peer, 'final', replyBytes(second.id, { n: 2 }));
    expect([resultOf(await a), resultOf(await b)]).toEqual([{ n: 1 }, { n: 2 }]);
    expect(requests.stats).toMatchObject({ malformedReplies: 1, replies: 2 });
  });

  it('does not pin an unreadable reply on a new request while an abandoned one’s reply is still due', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'late'));
    const requests = client(raw.endpoint);
    const abandoned = new AbortController();
    const early = requests.request('echo', 'service.call.request', echoBody({}), { signal: abandoned.signal }).catch((error: unknown) => error);
    await raw.next();
    abandoned.abort(new Error('gave up'));
    expect(await early).toMatchObject({ message: 'gave up' });
    const later = requests.request('echo', 'service.call.request', echoBody({ n: 2 }));
    const { peer, id } = await raw.next();
    // Garbage: the abandoned request's late reply, for all the client can tell.
    await raw.reply(peer, 'final', Buffer.from([0xc1]));
    await raw.reply(peer, 'final', replyBytes(id, { n: 2 }));
    expect(resultOf(await later)).toEqual({ n: 2 });
    expect(requests.stats).toMatchObject({ malformedReplies: 1 });
  });

  it('an error with id "0" (its sender could not read the request) fails the only request due at once', async () => {
    const raw = await fakeBroker(bindAddress(transport, 'unread'));
    const requests = client(raw.endpoint);
    const reply = requests.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    const { peer } = await raw.next();
    await raw.reply(peer, 'final', errorBytes('0', 'DECODE'));
    expect(await reply).toBeInstanceOf(DecodeError);
  });
});

describe('RequestClient raw requests', () => {
  it('count against maxInFlight until their replies come, timed out or not', async () => {
    const raw = await fakeBroker(bindAddress('tcp', 'raw'));
    const requests = new RequestClient({ framing: 'classic', endpoint: raw.endpoint, maxInFlight: 2 });
    cleanup.push(() => requests.close());
    await waitFor(() => requests.connected, 'the client to connect');
    for (let i = 0; i < 2; i++) await expect(requests.requestRaw('mmi.service', ['echo'], { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(requests.requestRaw('mmi.service', ['echo'])).rejects.toBeInstanceOf(OverloadedError);
    await expect(requests.request('echo', 'service.call.request', echoBody({}))).rejects.toBeInstanceOf(OverloadedError);
    // The late replies free the slots (and reach nobody).
    const first = await raw.next();
    await raw.next();
    for (let i = 0; i < 2; i++) await raw.replyRaw(first.peer, 'mmi.service', '404');
    await waitFor(() => requests.stats.inFlight === 0, 'the late replies to free their slots');
    const answered = requests.requestRaw('mmi.service', ['echo'], { timeout: 5_000 });
    await within(raw.next(), 5_000, 'the third raw request');
    await raw.replyRaw(first.peer, 'mmi.service', '200');
    expect((await answered).map(String)).toEqual(['200']);
  });
});

describe('RequestClient request types', () => {
  it('refuses a type that declares no reply before sending anything', async () => {
    const requests = client('tcp://127.0.0.1:1');
    await expect(requests.request('echo', 'service.event', { event: 'a.b', sender: 'x' } as never)).rejects.toBeInstanceOf(BadRequestError);
    expect(requests.stats.sent).toBe(0);
  });
});
