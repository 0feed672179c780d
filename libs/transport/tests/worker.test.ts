import { Writable } from 'node:stream';
import { encode, UnavailableError } from '@correio/codec';
import { createLogger } from '@correio/observability';
import { LamportStamp, RequestClient, Worker, type RequestHandler } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, NETWORK_TRANSPORTS, TRANSPORTS, type Transport } from './helpers/endpoints.js';
import { breakableStamp, codec, echoBody, echoResult, requestBytes, resultOf } from './helpers/messages.js';
import { TestBroker } from './helpers/TestBroker.js';
import { sleep, waitFor, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function rawBroker(transport: Transport): Promise<zmq.Router> {
  const router = new zmq.Router({ linger: 0 });
  cleanup.push(() => router.close());
  await router.bind(bindAddress(transport, 'raw-broker'));
  return router;
}

function startWorker(endpoint: string, handler: RequestHandler, options: Partial<ConstructorParameters<typeof Worker>[0]> = {}): Worker {
  const worker = new Worker({ framing: 'classic', endpoint, service: 'echo', handler, heartbeatInterval: 100, liveness: 3, ...options }).start();
  cleanup.push(() => worker.stop({ drainTimeout: 0 }));
  return worker;
}

/** Next message from a worker that is not a heartbeat. */
async function nextCommand(router: zmq.Router): Promise<Buffer[]> {
  for (let i = 0; i < 1000; i += 1) {
    const frames = await within(router.receive(), 5000, 'a worker command');
    if (frames[2]?.[0] !== 0x05) return frames;
  }
  throw new Error('only heartbeats');
}

describe.each(TRANSPORTS)('Worker over %s', (transport) => {
  it('declares a silent broker dead after liveness intervals and registers again on a new socket', async () => {
    const router = await rawBroker(transport);
    const worker = startWorker(router.lastEndpoint!, echoResult);
    const reasons: string[] = [];
    worker.events.on('reconnecting', ({ reason }) => reasons.push(reason));
    const first = await nextCommand(router);
    expect(first[2]![0]).toBe(0x01);
    const second = await nextCommand(router); // the broker never answers: READY again, new identity
    expect(second[2]![0]).toBe(0x01);
    expect(second[0]!.equals(first[0]!)).toBe(false);
    expect(worker.stats.brokerExpiries).toBeGreaterThanOrEqual(1);
    expect(reasons[0]).toMatch(/no message from the broker/);
  });

  it('stays registered while the broker heartbeats', async () => {
    const router = await rawBroker(transport);
    const worker = startWorker(router.lastEndpoint!, echoResult);
    const [identity] = await nextCommand(router);
    const beat = setInterval(() => void router.send([identity!, 'MDPW02', Buffer.of(0x05)]).catch(() => undefined), 50);
    await sleep(600);
    clearInterval(beat);
    expect(worker.stats.reconnects).toBe(0);
    expect(worker.stats.heartbeatsSent).toBeGreaterThan(0);
  });

  it('reconnects when the broker sends DISCONNECT', async () => {
    const router = await rawBroker(transport);
    const worker = startWorker(router.lastEndpoint!, echoResult, { liveness: 1000 });
    const [identity] = await nextCommand(router);
    await router.send([identity!, 'MDPW02', Buffer.of(0x06)]);
    const again = await nextCommand(router);
    expect(again[2]![0]).toBe(0x01);
    expect(worker.stats.disconnectsReceived).toBe(1);
  });

  it('starts a new session idle when the broker drops it mid-request; the old reply is dropped', async () => {
    const router = await rawBroker(transport);
    let firstSignal: AbortSignal | undefined;
    const worker = startWorker(router.lastEndpoint!, async (request, context) => {
      if (request.id === 'slow') {
        firstSignal = context.signal;
        await sleep(500); // a handler that ignores its signal for a while
      }
      return echoResult(request);
    }, { liveness: 1000 });
    const [first] = await nextCommand(router);
    await router.send([first!, 'MDPW02', Buffer.of(0x02), Buffer.from('c1'), Buffer.alloc(0), requestBytes('slow')]);
    await waitFor(() => firstSignal !== undefined, 'the slow handler to start');
    await router.send([first!, 'MDPW02', Buffer.of(0x06)]);
    const [second] = await nextCommand(router); // READY from the new session
    expect(second!.equals(first!)).toBe(false);
    expect(firstSignal!.aborted).toBe(true);
    await router.send([second!, 'MDPW02', Buffer.of(0x02), Buffer.from('c2'), Buffer.alloc(0), requestBytes('fast', { n: 2 })]);
    const reply = await nextCommand(router);
    expect(reply[0]!.equals(second!)).toBe(true);
    expect(codec.decode(reply[5]!)).toMatchObject({ id: 'fast', type: 'service.call.reply' });
    await waitFor(() => worker.stats.repliesDropped === 1, 'the stale reply to be dropped');
    expect(worker.stats.busyRejections).toBe(0);
  });

  it('answers malformed requests with typed error replies, counts them, and survives bad frames', async () => {
    const router = await rawBroker(transport);
    const worker = startWorker(router.lastEndpoint!, echoResult, { liveness: 1000 });
    const [identity] = await nextCommand(router);
    const client = Buffer.from('client-1');
    const envelope = (overrides: Record<string, unknown>) => encode({ v: 1, type: 'service.call.request', id: 'bad', from: 'x', lc: 1, ts: 1, body: echoBody({}), ...overrides });
    const cases: [string, Buffer[] | Uint8Array[], string, string?][] = [
      ['not MessagePack', [Buffer.from([0xc1, 0x00])], 'DECODE'],
      ['two body frames', [Buffer.from(requestBytes('two')), Buffer.from(requestBytes('two'))], 'DECODE'],
      ['invalid body', [envelope({ id: 'inv-1', body: { action: 42 } })], 'VALIDATION', 'inv-1'],
      ['unknown type', [envelope({ id: 'unk-1', type: 'no.such.request' })], 'UNKNOWN_TYPE', 'unk-1'],
      ['future version', [envelope({ id: 'ver-1', v: 2 })], 'UNSUPPORTED_VERSION', 'ver-1'],
      ['a reply type', [encode({ v: 1, type: 'service.call.reply', id: 'rep-1', from: 'x', lc: 1, ts: 1, body: {} })], 'BAD_REQUEST', 'rep-1'],
    ];
    for (const [what, body, code, id] of cases) {
      await router.send([identity!, 'MDPW02', Buffer.of(0x02), client, Buffer.alloc(0), ...body]);
      const reply = await nextCommand(router);
      expect(reply[2]![0], what).toBe(0x04);
      const error = codec.decode(reply[5]!);
      expect(error.type, what).toBe('error');
      expect(error.body, what).toMatchObject({ code });
      if (id) expect(error.id, what).toBe(id);
    }
    // Broken MDP from the broker is dropped and counted, never fatal.
    for (const frames of [['MDPW01', Buffer.of(0x05)], ['MDPW02', Buffer.of(0x42)], ['MDPW02', Buffer.of(0x02), client], ['MDPW02', Buffer.of(0x02), client, 'x', 'y'], ['MDPW02']]) {
      await router.send([identity!, ...frames]);
    }
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), client, Buffer.alloc(0), requestBytes('good', { ok: 1 })]);
    const good = await nextCommand(router);
    expect(codec.decode(good[5]!)).toMatchObject({ id: 'good', type: 'service.call.reply', body: { result: { ok: 1 } } });
    expect(worker.stats.malformedRequests).toBe(6);
    expect(worker.stats.malformedByCode).toEqual({ DECODE: 2, VALIDATION: 1, UNKNOWN_TYPE: 1, UNSUPPORTED_VERSION: 1, BAD_REQUEST: 1 });
    expect(worker.stats.malformedMessages).toBe(5);
    expect(worker.stats.requests).toBe(1);
  });

  it('replies INTERNAL for handler crashes and invalid reply bodies', async () => {
    const router = await rawBroker(transport);
    startWorker(router.lastEndpoint!, (request) => {
      if (request.id === 'crash') throw new TypeError('boom');
      return { result: 1, unexpected: true }; // additionalProperties: false
    }, { liveness: 1000 });
    const [identity] = await nextCommand(router);
    for (const id of ['crash', 'invalid']) {
      await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), requestBytes(id)]);
      const reply = codec.decode((await nextCommand(router))[5]!);
      expect(reply).toMatchObject({ type: 'error', id, body: { code: 'INTERNAL' } });
    }
  });
});

describe('Worker under hostile clocks and failing error paths', () => {
  it('serves a request whose lc is beyond the Lamport bounds with its normal reply, merging it only up to them, counted and warned of once', async () => {
    const router = await rawBroker('tcp');
    const stamp = new LamportStamp('bounded-worker');
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    startWorker(router.lastEndpoint!, echoResult, { liveness: 1000, stamp, logger: createLogger('worker', { destination, level: 'debug' }) });
    const [identity] = await nextCommand(router);
    const hostile = encode({ v: 1, type: 'service.call.request', id: 'far-ahead', from: 'x', lc: Number.MAX_SAFE_INTEGER - 1, ts: 1, body: echoBody({}) });
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), hostile]);
    const reply = codec.decode((await nextCommand(router))[5]!);
    expect(reply).toMatchObject({ type: 'service.call.reply', id: 'far-ahead' });
    // Merged up to the bound: the free jump (2^16) plus the budget (2^32), nowhere near exhaustion.
    expect(reply.lc).toBeGreaterThan(2 ** 32);
    expect(reply.lc).toBeLessThanOrEqual(2 ** 32 + 2 ** 17);
    expect(Number.isSafeInteger(stamp.value)).toBe(true);
    expect(stamp.stats).toEqual({ clamped: 1, clampedRequests: 1 });
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), requestBytes('honest', { ok: 1 })]);
    const honest = codec.decode((await nextCommand(router))[5]!);
    expect(honest).toMatchObject({ id: 'honest', type: 'service.call.reply' });
    expect(honest.lc).toBeGreaterThan(reply.lc); // honest requests stay within the bounds and are served as before
    expect(stamp.stats.clamped).toBe(1);

    // A flood of them is served too, and logged at warn once, the rest at debug.
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), hostile]);
    expect(codec.decode((await nextCommand(router))[5]!)).toMatchObject({ type: 'service.call.reply', id: 'far-ahead' });
    expect(stamp.stats).toEqual({ clamped: 2, clampedRequests: 2 });
    const clamped = lines.filter((line) => String(line['msg']).includes('beyond the Lamport bounds'));
    expect(clamped.map((line) => line['level'])).toEqual([40, 20]);
    expect(clamped[0]).toMatchObject({ id: 'far-ahead', lc: Number.MAX_SAFE_INTEGER - 1, occurrences: 1 });
  });

  it('answers UNAVAILABLE lamport_exhausted when its clock is at 2^53 − 1, and keeps answering', async () => {
    const router = await rawBroker('tcp');
    startWorker(router.lastEndpoint!, echoResult, { liveness: 1000, stamp: new LamportStamp('exhausted-worker', { start: Number.MAX_SAFE_INTEGER }) });
    const [identity] = await nextCommand(router);
    for (const id of ['first', 'second']) {
      await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), requestBytes(id)]);
      const reply = codec.decode((await nextCommand(router))[5]!);
      expect(reply).toMatchObject({ type: 'error', id, lc: Number.MAX_SAFE_INTEGER, body: { code: 'UNAVAILABLE', data: { reason: 'lamport_exhausted' } } });
    }
  });

  it('keeps serving when the error path itself throws: contained, counted and reported', async () => {
    const router = await rawBroker('tcp');
    const { stamp, setBroken } = breakableStamp('broken-worker');
    const worker = startWorker(router.lastEndpoint!, (request) => {
      if (request.id === 'crash') throw new TypeError('boom');
      return echoResult(request);
    }, { liveness: 1000, stamp });
    const failures: number[] = [];
    worker.events.on('replyFailed', ({ connection }) => failures.push(connection));
    const [identity] = await nextCommand(router);
    setBroken(true);
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), requestBytes('crash')]);
    await waitFor(() => worker.stats.replyFailures === 1, 'the contained failure', 5_000);
    expect(failures).toEqual([0]);
    expect(worker.stats.inFlight).toBe(0); // the connection is idle again, not wedged
    setBroken(false);
    await router.send([identity!, 'MDPW02', Buffer.of(0x02), Buffer.from('c'), Buffer.alloc(0), requestBytes('after', { ok: 2 })]);
    expect(codec.decode((await nextCommand(router))[5]!)).toMatchObject({ id: 'after', type: 'service.call.reply', body: { result: { ok: 2 } } });
    expect(worker.stats.replyFailures).toBe(1);
  });
});

describe.each(TRANSPORTS)('Worker shutdown over %s', (transport) => {
  it('drains the request in progress, delivers its reply, then sends DISCONNECT', async () => {
    const broker = await TestBroker.start(bindAddress(transport, 'drain'), { heartbeatInterval: 100, liveness: 20 });
    cleanup.push(() => broker.close());
    let started = false;
    const worker = startWorker(broker.endpoint, async (request) => {
      started = true;
      await sleep(300);
      return echoResult(request);
    }, { concurrency: 2, liveness: 20 });
    const client = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, timeout: 5000 });
    cleanup.push(() => client.close());
    const reply = client.request('echo', 'service.call.request', echoBody({ n: 1 }));
    await waitFor(() => started, 'the handler to start');
    await worker.stop({ drainTimeout: 5000 });
    expect(resultOf(await reply)).toEqual({ n: 1 });
    await waitFor(() => broker.workerCount('echo') === 0, 'both connections to disconnect');
    expect(worker.stats).toMatchObject({ replies: 1, abandoned: 0, repliesDropped: 0 });
  });

  it('aborts handlers still running at the drain deadline', async () => {
    const broker = await TestBroker.start(bindAddress(transport, 'abandon'), { heartbeatInterval: 100, liveness: 20 });
    cleanup.push(() => broker.close());
    let signal: AbortSignal | undefined;
    const worker = startWorker(broker.endpoint, async (request, context) => {
      signal = context.signal;
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve));
      return echoResult(request);
    }, { liveness: 20 });
    const client = new RequestClient({ framing: 'classic', endpoint: broker.endpoint, timeout: 2000 });
    cleanup.push(() => client.close());
    void client.request('echo', 'service.call.request', echoBody({})).catch(() => undefined);
    await waitFor(() => signal !== undefined, 'the handler to start');
    await within(worker.stop({ drainTimeout: 100 }), 3000, 'stop');
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(UnavailableError);
    expect(worker.stats.abandoned).toBe(1);
  });
});

describe.each(NETWORK_TRANSPORTS)('broker restart over %s', (transport) => {
  it('client and worker recover: every request completes, retried with its id', async () => {
    let broker = await TestBroker.start(bindAddress(transport, 'restart'), { heartbeatInterval: 100 });
    const endpoint = broker.endpoint;
    cleanup.push(() => broker.close());
    const served = new Map<string, number>();
    const worker = startWorker(endpoint, async (request) => {
      served.set(request.id, (served.get(request.id) ?? 0) + 1);
      await sleep(5); // 60 requests take ≥ 300 ms: most of them must outlive the first broker
      return echoResult(request);
    }, { concurrency: 2 });
    const client = new RequestClient({ framing: 'classic', endpoint, timeout: 300, retries: 20, backoff: { initialMs: 50, maxMs: 200 }, reconnectMaxInterval: 200 });
    cleanup.push(() => client.close());

    const total = 60;
    const results: number[] = [];
    const run = (async () => {
      for (let n = 0; n < total; n += 1) results.push(resultOf(await client.request('echo', 'service.call.request', echoBody({ n })))['n'] as number);
    })();
    await waitFor(() => results.length >= 20, 'the first replies');
    await broker.close();
    expect(results.length).toBeLessThan(total);
    await sleep(400); // long enough for the worker to declare the broker dead
    broker = await TestBroker.start(endpoint, { heartbeatInterval: 100 });
    await within(run, 20_000, 'every request to complete');

    expect(results).toEqual(Array.from({ length: total }, (_, n) => n));
    expect(worker.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(broker.readies.length).toBeGreaterThanOrEqual(1);
    expect(client.stats.retries).toBeGreaterThanOrEqual(1);
  });
});
