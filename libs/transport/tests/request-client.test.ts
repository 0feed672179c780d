import { BadRequestError, NotFoundError, OverloadedError, TimeoutError, UnavailableError, ValidationError } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { LamportStamp, RequestClient, Worker, type RequestHandler } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, TRANSPORTS, type Transport } from './helpers/endpoints.js';
import { codec, echoBody, echoResult, replyBytes, resultOf } from './helpers/messages.js';
import { TestBroker } from './helpers/TestBroker.js';
import { sleep, waitFor, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function broker(transport: Transport): Promise<TestBroker> {
  // Generous liveness: on a loaded machine a late heartbeat must not look like a dead peer.
  const started = await TestBroker.start(bindAddress(transport, 'broker'), { heartbeatInterval: 200, liveness: 10 });
  cleanup.push(() => started.close());
  return started;
}

function worker(endpoint: string, handler: RequestHandler, concurrency = 1): Worker {
  const started = new Worker({ framing: 'classic', endpoint, service: 'echo', handler, concurrency, heartbeatInterval: 200, liveness: 10 }).start();
  cleanup.push(() => started.stop({ drainTimeout: 0 }));
  return started;
}

function client(endpoint: string, options: Partial<ConstructorParameters<typeof RequestClient>[0]> = {}): RequestClient {
  const created = new RequestClient({ framing: 'classic', endpoint, timeout: 5000, ...options });
  cleanup.push(() => created.close());
  return created;
}

describe.each(TRANSPORTS)('RequestClient over %s', (transport) => {
  it('keeps many requests in flight on one socket and matches every reply by id', async () => {
    const mdp = await broker(transport);
    const served = worker(mdp.endpoint, async (request) => {
      await sleep(Math.random() * 5);
      return echoResult(request);
    }, 8);
    const requests = client(mdp.endpoint);
    const replies = await Promise.all(Array.from({ length: 500 }, (_, n) => requests.request('echo', 'service.call.request', echoBody({ n }))));
    expect(replies.map((reply) => resultOf(reply)['n'])).toEqual(Array.from({ length: 500 }, (_, n) => n));
    expect(requests.stats).toMatchObject({ replies: 500, inFlight: 0, timeouts: 0, malformedReplies: 0 });
    // One request per worker connection at a time, as RFC 18 requires, on both sides.
    expect(served.stats.busyRejections).toBe(0);
    expect(mdp.violations).toEqual([]);
  });

  it('times out with TimeoutError when the broker is up but nobody serves the service', async () => {
    const mdp = await broker(transport);
    const requests = client(mdp.endpoint);
    await expect(requests.request('nobody', 'service.call.request', echoBody({}), { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(requests.stats.timeouts).toBe(1);
  });

  it('retries with the same request id and exponential backoff; the worker sees the id twice', async () => {
    const mdp = await broker(transport);
    const seen: string[] = [];
    worker(
      mdp.endpoint,
      async (request, { signal }) => {
        seen.push(request.id);
        // The first attempt is slow enough to time out; its late reply is dropped as unmatched or wins.
        if (seen.filter((id) => id === request.id).length === 1) await sleep(600);
        if (signal.aborted) throw new Error('aborted');
        return echoResult(request);
      },
      2,
    );
    const requests = client(mdp.endpoint);
    const reply = await requests.request('echo', 'service.call.request', echoBody({ x: 1 }), {
      timeout: 250,
      retries: 3,
      backoff: { initialMs: 20, maxMs: 100 },
    });
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(seen[1]);
    expect(reply.id).toBe(seen[0]);
    expect(requests.stats.retries).toBeGreaterThanOrEqual(1);
  });

  it('throws error replies as the typed CorreioError they carry', async () => {
    const mdp = await broker(transport);
    worker(mdp.endpoint, () => {
      throw new NotFoundError('no such thing', { data: { thing: 'x' } });
    });
    const requests = client(mdp.endpoint);
    const failure = await requests.request('echo', 'service.call.request', echoBody({})).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(NotFoundError);
    expect(failure).toMatchObject({ code: 'NOT_FOUND', retryable: false, message: 'no such thing', data: { thing: 'x' } });
    expect(requests.stats.errorReplies).toBe(1);
  });

  it('delivers PARTIAL replies in order before the FINAL one', async () => {
    const mdp = await broker(transport);
    worker(mdp.endpoint, async (request, context) => {
      for (let part = 1; part <= 3; part += 1) await context.partial({ result: { part } });
      return echoResult(request);
    });
    const requests = client(mdp.endpoint);
    const partials: AnyEnvelope[] = [];
    const reply = await requests.request('echo', 'service.call.request', echoBody({ done: true }), { onPartial: (partial) => partials.push(partial) });
    expect(partials.map((partial) => resultOf(partial)['part'])).toEqual([1, 2, 3]);
    expect(partials.every((partial) => partial.id === reply.id)).toBe(true);
    expect(resultOf(reply)).toEqual({ done: true });
  });

  it('answers mmi.service through requestRaw', async () => {
    const mdp = await broker(transport);
    worker(mdp.endpoint, echoResult);
    const requests = client(mdp.endpoint);
    await waitFor(() => mdp.workerCount('echo') === 1, 'the worker to register');
    const [known] = await requests.requestRaw('mmi.service', ['echo']);
    const [unknown] = await requests.requestRaw('mmi.service', ['nothing']);
    expect(known?.toString()).toBe('200');
    expect(unknown?.toString()).toBe('404');
  });

  it('stamps outgoing envelopes and observes incoming ones through the Stamp', async () => {
    const mdp = await broker(transport);
    const workerStamp = new LamportStamp('worker-1', { start: 1000 });
    const started = new Worker({ framing: 'classic', endpoint: mdp.endpoint, service: 'echo', heartbeatInterval: 200, liveness: 10, stamp: workerStamp, handler: (request) => ({ result: { from: request.from, lc: request.lc } }) }).start();
    cleanup.push(() => started.stop({ drainTimeout: 0 }));
    const stamp = new LamportStamp('client-1');
    const requests = client(mdp.endpoint, { stamp });
    const reply = await requests.request('echo', 'service.call.request', echoBody({}));
    expect(resultOf(reply)).toEqual({ from: 'client-1', lc: 1 });
    expect(reply.from).toBe('worker-1');
    expect(reply.lc).toBeGreaterThan(1000);
    expect(stamp.value).toBeGreaterThan(reply.lc); // Lamport receive rule
  });

  it('carries the auth option as the envelope auth, on retries too, and leaves it out when absent', async () => {
    const mdp = await broker(transport);
    const seen: (string | undefined)[] = [];
    worker(mdp.endpoint, async (request) => {
      seen.push(request.auth);
      if (seen.length === 1) await sleep(600); // the first attempt times out: the retry must carry the token too
      return echoResult(request);
    }, 2);
    const requests = client(mdp.endpoint);
    const token = 'aGVhZGVy.cGF5bG9hZA.c2ln';
    await requests.request('echo', 'service.call.request', echoBody({}), { auth: token, timeout: 250, retries: 3, backoff: { initialMs: 20, maxMs: 100 } });
    await requests.request('echo', 'service.call.request', echoBody({}));
    expect(seen.slice(0, 2)).toEqual([token, token]);
    expect(seen.at(-1)).toBeUndefined();
  });
});

describe('RequestClient failures', () => {
  it('fails with UnavailableError when no broker is reachable', async () => {
    const requests = client('tcp://127.0.0.1:1');
    const failure = await requests.request('echo', 'service.call.request', echoBody({}), { timeout: 300 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnavailableError);
    expect((failure as UnavailableError).retryable).toBe(true);
    expect(requests.stats.unavailable).toBe(1);
  });

  it('refuses an invalid body before sending anything', async () => {
    const requests = client('tcp://127.0.0.1:1');
    await expect(requests.request('echo', 'service.call.request', { action: 'Not An Action' })).rejects.toBeInstanceOf(ValidationError);
    expect(requests.stats.sent).toBe(0);
  });

  it('refuses more than maxInFlight requests and duplicate ids', async () => {
    const requests = client('tcp://127.0.0.1:1', { maxInFlight: 2 });
    const pending = [1, 2].map(() => requests.request('echo', 'service.call.request', echoBody({}), { timeout: 200, id: `id-${Math.random().toString(36).slice(2)}` }).catch(() => undefined));
    await expect(requests.request('echo', 'service.call.request', echoBody({}))).rejects.toBeInstanceOf(OverloadedError);
    await Promise.all(pending);
    const first = requests.request('echo', 'service.call.request', echoBody({}), { id: 'same', timeout: 200 }).catch(() => undefined);
    await expect(requests.request('echo', 'service.call.request', echoBody({}), { id: 'same' })).rejects.toBeInstanceOf(BadRequestError);
    await first;
  });

  it('rejects with the abort reason when the signal aborts', async () => {
    const requests = client('tcp://127.0.0.1:1');
    const controller = new AbortController();
    const pending = requests.request('echo', 'service.call.request', echoBody({}), { signal: controller.signal, timeout: 10_000 });
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
    expect(requests.stats.inFlight).toBe(0);
  });

  it('rejects requests in flight when closed', async () => {
    const requests = new RequestClient({ framing: 'classic', endpoint: 'tcp://127.0.0.1:1' });
    const pending = requests.request('echo', 'service.call.request', echoBody({}), { timeout: 10_000 });
    await sleep(10);
    await requests.close();
    await expect(pending).rejects.toBeInstanceOf(UnavailableError);
  });

  it.each(TRANSPORTS)('survives malformed MDP and replies for nobody from a raw peer over %s', async (transport) => {
    const router = new zmq.Router({ linger: 0 });
    cleanup.push(() => router.close());
    await router.bind(bindAddress(transport, 'garbage'));
    const requests = client(router.lastEndpoint!);
    const reply = requests.request('echo', 'service.call.request', echoBody({}));
    const [identity, , , , body] = await within(router.receive(), 5000, 'the request');
    const { id } = codec.decode(body!);
    const garbage: (Buffer | Uint8Array | string)[][] = [
      ['MDPC01', Buffer.of(0x03), 'echo', replyBytes(id)], // wrong protocol
      ['MDPC02', Buffer.of(0x09), 'echo', replyBytes(id)], // unknown command
      ['MDPC02', Buffer.of(0x03), 'echo'], // no body
      ['MDPC02', Buffer.of(0x02), 'echo', replyBytes('someone-else')], // nobody waits for it
      ['MDPC02'],
    ];
    for (const frames of garbage) await router.send([identity!, ...frames]);
    await router.send([identity!, 'MDPC02', Buffer.of(0x03), 'echo', replyBytes(id, { ok: true })]);
    expect(resultOf(await reply)).toEqual({ ok: true });
    expect(requests.stats).toMatchObject({ malformedReplies: 4, unmatchedReplies: 1, replies: 1 });
  });
});
