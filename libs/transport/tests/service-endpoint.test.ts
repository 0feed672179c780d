import { BadRequestError, OverloadedError, UnavailableError, UnknownServiceError } from '@correio/codec';
import type { AnyEnvelope, Envelope, MessageType } from '@correio/protocol';
import { RequestClient, ServiceEndpoint, type RequestHandler, type ServiceEndpointOptions } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, NETWORK_TRANSPORTS, type Transport } from './helpers/endpoints.js';
import { packed } from './helpers/frames.js';
import { codec } from './helpers/messages.js';
import { sleep, waitFor, within } from './helpers/wait.js';

const SERVICE = 'srv.test';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function endpoint(handler: RequestHandler, options: Partial<ServiceEndpointOptions> = {}, transport: Transport = 'tcp'): Promise<{ ep: ServiceEndpoint; address: string }> {
  const ep = new ServiceEndpoint({ service: SERVICE, handler, from: 'endpoint-1', ...options });
  cleanup.push(() => ep.stop());
  const address = await ep.bind(bindAddress(transport, 'endpoint'));
  ep.start();
  return { ep, address };
}

function client(address: string, options: Partial<ConstructorParameters<typeof RequestClient>[0]> = {}): RequestClient {
  const requests = new RequestClient({ endpoint: address, timeout: 5000, ...options });
  cleanup.push(() => requests.close());
  return requests;
}

/** The clock.poll handler: answers the request's round with the current time. */
function pollReply(request: AnyEnvelope): { round: number; time: number } {
  if (request.type !== 'clock.poll.request') throw new BadRequestError(`unexpected ${request.type}`);
  return { round: request.body.round, time: Date.now() };
}

function roundOf(reply: AnyEnvelope): number {
  if (reply.type !== 'clock.poll.reply') throw new Error(`expected clock.poll.reply, got ${reply.type}`);
  return reply.body.round;
}

/** A promise and the function that settles it: holds handlers until a test lets them go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

function envelopeBytes<T extends MessageType>(type: T, id: string, body: Envelope<T>['body']): Uint8Array {
  return codec.encode({ v: 1, type, id, from: 'raw-peer', lc: 1, ts: Date.now(), body } as Envelope<T>);
}

function rawDealer(address: string): zmq.Dealer {
  const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 5000, routingId: 'hostile-peer' });
  cleanup.push(() => dealer.close());
  dealer.connect(address);
  return dealer;
}

/** The envelope of a FINAL a raw dealer received: `["MDPC02", 0x03, service, envelope]`. */
function finalOf(frames: Buffer[], service = SERVICE): AnyEnvelope {
  expect(frames).toHaveLength(4);
  expect(frames[0]!.toString()).toBe('MDPC02');
  expect([...frames[1]!]).toEqual([0x03]);
  expect(frames[2]!.toString()).toBe(service);
  return codec.decode(frames[3]!);
}


describe.each(NETWORK_TRANSPORTS)('ServiceEndpoint over %s', (transport) => {
  it('serves a RequestClient, and many concurrent requests each get their own reply, handled concurrently', async () => {
    let running = 0;
    let mostAtOnce = 0;
    const { ep, address } = await endpoint(
      async (request, context) => {
        expect(context.service).toBe(SERVICE);
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await sleep(1 + (pollReply(request).round % 5));
        running -= 1;
        return pollReply(request);
      },
      { concurrency: 256 }, // above the burst: the default 64 would answer some of it OVERLOADED
      transport,
    );
    const requests = client(address);
    const first = await requests.request(SERVICE, 'clock.poll.request', { round: 7 });
    expect(first).toMatchObject({ type: 'clock.poll.reply', from: 'endpoint-1', body: { round: 7 } });

    const replies = await Promise.all(Array.from({ length: 200 }, (_, round) => requests.request(SERVICE, 'clock.poll.request', { round })));
    expect(replies.map(roundOf)).toEqual(Array.from({ length: 200 }, (_, round) => round));
    expect(mostAtOnce).toBeGreaterThanOrEqual(2);
    expect(ep.stats).toMatchObject({ requests: 201, replies: 201, inFlight: 0, malformedMessages: 0, malformedRequests: 0 });
  });
});

describe('ServiceEndpoint refusals', () => {
  it('answers a request for another service UNKNOWN_SERVICE, not retryable, with the requested service and the request id', async () => {
    const { ep, address } = await endpoint(pollReply);
    const requests = client(address, { retries: 3 });
    const failure = await requests.request('srv.other', 'clock.poll.request', { round: 1 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnknownServiceError);
    expect(failure).toMatchObject({ code: 'UNKNOWN_SERVICE', retryable: false });
    expect(requests.stats.sent).toBe(1); // not retried

    const raw = rawDealer(address);
    await raw.send(['MDPC02', Buffer.of(0x01), 'srv.other', envelopeBytes('clock.poll.request', 'wrong-service', { round: 2 })]);
    const reply = finalOf(await within(raw.receive(), 5000, 'the UNKNOWN_SERVICE reply'), 'srv.other');
    expect(reply).toMatchObject({ type: 'error', id: 'wrong-service', from: 'endpoint-1', body: { code: 'UNKNOWN_SERVICE', retryable: false } });
    expect(ep.stats).toMatchObject({ unknownService: 2, requests: 0 });
  });

  it('answers a packed REQUEST with a packed FINAL, and a classic one classic, on one connection', async () => {
    const { address } = await endpoint(pollReply);
    const raw = rawDealer(address);
    await raw.send([packed('MDPC02', 0x01, SERVICE), envelopeBytes('clock.poll.request', 'packed-1', { round: 3 })]);
    const reply = await within(raw.receive(), 5000, 'the packed FINAL');
    expect(reply).toHaveLength(2);
    expect(reply[0]!.equals(packed('MDPC02', 0x03, SERVICE))).toBe(true);
    expect(codec.decode(reply[1]!)).toMatchObject({ type: 'clock.poll.reply', id: 'packed-1', body: { round: 3 } });
    await raw.send([packed('MDPC02', 0x01, 'srv.other'), envelopeBytes('clock.poll.request', 'packed-2', { round: 4 })]);
    const refusal = await within(raw.receive(), 5000, 'the packed UNKNOWN_SERVICE');
    expect(refusal[0]!.equals(packed('MDPC02', 0x03, 'srv.other'))).toBe(true);
    expect(codec.decode(refusal[1]!)).toMatchObject({ type: 'error', id: 'packed-2', body: { code: 'UNKNOWN_SERVICE' } });
    await raw.send(['MDPC02', Buffer.of(0x01), SERVICE, envelopeBytes('clock.poll.request', 'classic-1', { round: 5 })]);
    expect(finalOf(await within(raw.receive(), 5000, 'the classic FINAL'))).toMatchObject({ id: 'classic-1', body: { round: 5 } });
  });

  it('rejects an invalid service name or concurrency at construction', () => {
    expect(() => new ServiceEndpoint({ service: 'has space', handler: pollReply })).toThrow(RangeError);
    expect(() => new ServiceEndpoint({ service: '', handler: pollReply })).toThrow(RangeError);
    expect(() => new ServiceEndpoint({ service: SERVICE, handler: pollReply, concurrency: 0 })).toThrow(RangeError);
  });

  it('drops hostile frames unanswered, answers bad bodies with error envelopes, and keeps serving', async () => {
    const { ep, address } = await endpoint(pollReply);
    const raw = rawDealer(address);
    const valid = envelopeBytes('clock.poll.request', 'valid-1', { round: 1 });
    const protoKey = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x01])]);
    const dropped: (string | Buffer | Uint8Array)[][] = [
      ['GARBAGE', Buffer.of(0x01), SERVICE, valid], // wrong header
      ['MDPW02', Buffer.of(0x01), SERVICE], // worker READY
      ['MDPW02', Buffer.of(0x04), 'client', '', valid], // worker FINAL
      ['MDPC02', Buffer.of(0x02), SERVICE, valid], // PARTIAL from a client
      ['MDPC02', Buffer.of(0x03), SERVICE, valid], // FINAL from a client
      ['MDPC02', Buffer.of(0x09), SERVICE, valid], // unknown command
      ['MDPC02', Buffer.of(0x01, 0x01), SERVICE, valid], // two-byte command
      ['MDPC02', Buffer.of(0x01)], // no service
      ['MDPC02', Buffer.of(0x01), 'bad service', valid], // invalid service name
      ['MDPC02', Buffer.of(0x01), SERVICE], // no body
      ['MDPC02'], // one frame
      [''], // one empty frame
      ['', '', '', ''], // empty frames
      [packed('MDPC02', 0x01)], // packed: no service, no body
      [packed('MDPC02', 0x01), valid], // packed: no service
      [packed('MDPC02', 0x01, SERVICE)], // packed: no body
      [packed('MDPC02', 0x03, SERVICE), valid], // packed FINAL from a client
      [packed('MDPC02', 0x01, 'bad service'), valid], // packed: invalid service name
      [packed('MDPW02', 0x01, SERVICE)], // packed worker READY
    ];
    for (const frames of dropped) await raw.send(frames);
    const answered: [string, (string | Buffer | Uint8Array)[], string][] = [
      ['two body frames', ['MDPC02', Buffer.of(0x01), SERVICE, envelopeBytes('clock.poll.request', 'two-frames', { round: 1 }), valid], 'two-frames'],
      ['random bytes', ['MDPC02', Buffer.of(0x01), SERVICE, Buffer.from([0xc1, 0xff, 0x00, 0x13, 0x37])], '0'],
      ['a __proto__ key', ['MDPC02', Buffer.of(0x01), SERVICE, protoKey], '0'],
      ['an empty body frame', ['MDPC02', Buffer.of(0x01), SERVICE, ''], '0'],
      ['a reply type', ['MDPC02', Buffer.of(0x01), SERVICE, envelopeBytes('clock.poll.reply', 'not-a-request', { round: 1, time: Date.now() })], 'not-a-request'],
    ];
    for (const [, frames] of answered) await raw.send(frames);
    await raw.send(['MDPC02', Buffer.of(0x01), SERVICE, valid]);

    // The garbage got no reply: the first replies are the error envelopes, in order, then the real one.
    const codes: string[] = [];
    for (const [what, , id] of answered) {
      const reply = finalOf(await within(raw.receive(), 5000, `the reply to ${what}`));
      expect(reply, what).toMatchObject({ type: 'error', id, body: { retryable: false } });
      codes.push((reply as Envelope<'error'>).body.code);
    }
    expect(codes).toEqual(['DECODE', 'DECODE', 'DECODE', 'DECODE', 'BAD_REQUEST']);
    expect(finalOf(await within(raw.receive(), 5000, 'the valid reply'))).toMatchObject({ type: 'clock.poll.reply', id: 'valid-1', body: { round: 1 } });

    // A well-behaved client is still served.
    expect(roundOf(await client(address).request(SERVICE, 'clock.poll.request', { round: 42 }))).toBe(42);
    expect(ep.stats).toMatchObject({
      malformedMessages: dropped.length,
      malformedRequests: 5,
      malformedByCode: { DECODE: 4, BAD_REQUEST: 1 },
      requests: 2,
      replies: 2,
      unknownService: 0,
      replyFailures: 0,
    });
  });

  it('disconnects a peer sending more than maxMessageSize and keeps serving others', async () => {
    const { ep, address } = await endpoint(pollReply, { maxMessageSize: 1024 });
    const raw = rawDealer(address);
    await raw.send(['MDPC02', Buffer.of(0x01), SERVICE, Buffer.alloc(8192, 0x41)]);
    await sleep(100);
    expect(roundOf(await client(address).request(SERVICE, 'clock.poll.request', { round: 3 }))).toBe(3);
    expect(ep.stats).toMatchObject({ requests: 1, malformedMessages: 0, malformedRequests: 0 });
  });

  it('answers a handler that throws with an error envelope and counts it', async () => {
    const { ep, address } = await endpoint(() => {
      throw new Error('boom');
    });
    await expect(client(address).request(SERVICE, 'clock.poll.request', { round: 1 })).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(ep.stats).toMatchObject({ requests: 1, replies: 1, handlerErrors: 1 });
  });
});

describe('ServiceEndpoint concurrency and shutdown', () => {
  it('answers a request beyond `concurrency` OVERLOADED at once; the others complete when released', async () => {
    const release = gate();
    const { ep, address } = await endpoint(
      async (request) => {
        await release.wait;
        return pollReply(request);
      },
      { concurrency: 2 },
    );
    const requests = client(address);
    const held = [1, 2].map((round) => requests.request(SERVICE, 'clock.poll.request', { round }));
    await waitFor(() => ep.stats.inFlight === 2, 'two requests in progress');
    const failure = await requests.request(SERVICE, 'clock.poll.request', { round: 3 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OverloadedError);
    expect(failure).toMatchObject({ retryable: true });
    release.open();
    expect((await Promise.all(held)).map(roundOf)).toEqual([1, 2]);
    expect(roundOf(await requests.request(SERVICE, 'clock.poll.request', { round: 4 }))).toBe(4);
    expect(ep.stats).toMatchObject({ overloadedRejections: 1, requests: 3, replies: 3, inFlight: 0 });
  });

  it('serves another service while `also` names a handler for it, each service with its own concurrency, and refuses it UNKNOWN_SERVICE after', async () => {
    const release = gate();
    let serving = true;
    const { ep, address } = await endpoint(
      async (request, context) => {
        expect(context.service).toBe(SERVICE);
        await release.wait;
        return pollReply(request);
      },
      {
        concurrency: 1,
        also: (service) =>
          service === 'tasks' && serving
            ? (request, context) => {
                expect(context.service).toBe('tasks');
                return pollReply(request);
              }
            : undefined,
      },
    );
    const requests = client(address);
    // The endpoint's own service is full (1 in progress): the other still has its own slot.
    const held = requests.request(SERVICE, 'clock.poll.request', { round: 1 });
    await waitFor(() => ep.stats.inFlight === 1, 'one request in progress');
    expect(roundOf(await requests.request('tasks', 'clock.poll.request', { round: 2 }))).toBe(2);
    await expect(requests.request(SERVICE, 'clock.poll.request', { round: 3 })).rejects.toBeInstanceOf(OverloadedError);
    serving = false;
    await expect(requests.request('tasks', 'clock.poll.request', { round: 4 })).rejects.toBeInstanceOf(UnknownServiceError);
    release.open();
    expect(roundOf(await held)).toBe(1);
    expect(ep.stats).toMatchObject({ requests: 2, replies: 2, overloadedRejections: 1, unknownService: 1, inFlight: 0 });
  });

  it('stop() lets a request in progress finish with its reply and refuses new ones UNAVAILABLE', async () => {
    const release = gate();
    const { ep, address } = await endpoint(async (request) => {
      await release.wait;
      return pollReply(request);
    });
    const requests = client(address);
    const inProgress = requests.request(SERVICE, 'clock.poll.request', { round: 1 });
    await waitFor(() => ep.stats.inFlight === 1, 'the request in progress');
    const stopping = ep.stop();
    const refused = await requests.request(SERVICE, 'clock.poll.request', { round: 2 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(refused).toMatchObject({ retryable: true, message: expect.stringMatching(/stopping/) });
    release.open();
    expect(roundOf(await inProgress)).toBe(1);
    await within(stopping, 5000, 'stop');
    expect(ep.stats).toMatchObject({ requests: 1, replies: 1, stoppingRejections: 1, inFlight: 0 });
  });

  it('stop() aborts a handler that outlasts drainTimeout and answers its client UNAVAILABLE', async () => {
    let signal: AbortSignal | undefined;
    const { ep, address } = await endpoint(
      async (_request, context) => {
        signal = context.signal;
        await new Promise((_, reject) => context.signal.addEventListener('abort', () => reject(context.signal.reason as Error), { once: true }));
        return {};
      },
      { drainTimeout: 100 },
    );
    const pending = requestOutcome(client(address).request(SERVICE, 'clock.poll.request', { round: 1 }));
    await waitFor(() => ep.stats.inFlight === 1, 'the request in progress');
    await within(ep.stop(), 5000, 'stop');
    expect(signal?.aborted).toBe(true);
    const outcome = await pending;
    // The endpoint's own answer, not the client giving up on a closed connection.
    expect(outcome).toBeInstanceOf(UnavailableError);
    expect(outcome).toMatchObject({ retryable: true, message: expect.stringMatching(/stopped before this request completed/) });
    expect(ep.stats).toMatchObject({ requests: 1, replies: 0, inFlight: 0 });
  });
});

describe('ServiceEndpoint partial replies', () => {
  it('sends a PARTIAL the client sees before the FINAL', async () => {
    const { ep, address } = await endpoint(async (request, context) => {
      await context.partial({ round: 0, time: Date.now() });
      return pollReply(request);
    });
    const partials: AnyEnvelope[] = [];
    const reply = await client(address).request(SERVICE, 'clock.poll.request', { round: 5 }, { onPartial: (partial) => partials.push(partial) });
    expect(roundOf(reply)).toBe(5);
    expect(partials).toHaveLength(1);
    expect(partials[0]).toMatchObject({ type: 'clock.poll.reply', id: reply.id, body: { round: 0 } });
    expect(ep.stats).toMatchObject({ partials: 1, replies: 1 });
  });
});

describe('a direct link whose peer goes away', () => {
  it('fails the request in flight at once with failOnDisconnect, and leaves it to its time-out without', async () => {
    // A peer that takes the request and dies without answering: a raw ROUTER closed with linger 0.
    const peer = new zmq.Router({ linger: 0 });
    cleanup.push(() => peer.close());
    const address = bindAddress('tcp', 'vanishing');
    await peer.bind(address);
    const bound = peer.lastEndpoint!;
    const failing = client(bound, { failOnDisconnect: true, timeout: 20_000 });
    const waiting = client(bound, { timeout: 20_000 });
    await waitFor(() => failing.connected && waiting.connected, 'both clients connected');
    const first = requestOutcome(failing.request(SERVICE, 'clock.poll.request', { round: 1 }));
    const second = requestOutcome(waiting.request(SERVICE, 'clock.poll.request', { round: 2 }));
    await peer.receive();
    await peer.receive();
    peer.close();
    const outcome = await within(first, 5_000, 'the failing client to give up');
    expect(outcome).toBeInstanceOf(UnavailableError);
    expect(outcome).toMatchObject({ retryable: true, message: expect.stringMatching(/dropped with the request in flight/) });
    // The other client still waits (its time-out is 20 s): it has not settled.
    const settled = await Promise.race([second.then(() => true), sleep(300).then(() => false)]);
    expect(settled).toBe(false);
    await waiting.close();
    expect(await second).toBeInstanceOf(UnavailableError);
  });
});

/** Settles with the reply or the error, so a rejection is never unhandled while the test waits. */
function requestOutcome(request: Promise<AnyEnvelope>): Promise<AnyEnvelope | unknown> {
  return request.catch((error: unknown) => error);
}
