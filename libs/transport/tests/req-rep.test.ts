import { ConflictError, TimeoutError, UnavailableError } from '@correio/codec';
import { RepServer, ReqClient, type RequestHandler } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { bindAddress, TRANSPORTS, type Transport } from './helpers/endpoints.js';
import { breakableStamp, codec, echoBody, echoResult, replyBytes, requestBytes, resultOf } from './helpers/messages.js';
import { sleep, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function server(transport: Transport, handler: RequestHandler): Promise<{ server: RepServer; endpoint: string }> {
  const rep = new RepServer({ handler, from: 'rep-1' });
  cleanup.push(() => rep.stop());
  const endpoint = await rep.bind(bindAddress(transport, 'rep'));
  rep.start();
  return { server: rep, endpoint };
}

function client(endpoint: string, options: Partial<ConstructorParameters<typeof ReqClient>[0]> = {}): ReqClient {
  const req = new ReqClient({ endpoint, timeout: 5000, ...options });
  cleanup.push(() => req.close());
  return req;
}

describe.each(TRANSPORTS)('REQ/REP over %s', (transport) => {
  it('exchanges one envelope frame each way; concurrent calls are sent one after another', async () => {
    const { endpoint } = await server(transport, echoResult);
    const req = client(endpoint);
    const replies = await Promise.all(Array.from({ length: 50 }, (_, n) => req.request('service.call.request', echoBody({ n }))));
    expect(replies.map((reply) => resultOf(reply)['n'])).toEqual(Array.from({ length: 50 }, (_, n) => n));
    expect(replies.every((reply) => reply.from === 'rep-1')).toBe(true);
  });

  it('throws error replies as typed errors', async () => {
    const { endpoint } = await server(transport, () => {
      throw new ConflictError('already there');
    });
    await expect(client(endpoint).request('service.call.request', echoBody({}))).rejects.toBeInstanceOf(ConflictError);
  });

  it('recreates its socket after a timeout (Lazy Pirate) and retries with the same id', async () => {
    const seen: string[] = [];
    const { endpoint } = await server(transport, async (request) => {
      seen.push(request.id);
      if (seen.length === 1) await sleep(500); // the first reply comes too late and goes to a dead socket
      return echoResult(request);
    });
    const req = client(endpoint, { timeout: 300, retries: 3, backoff: { initialMs: 10, maxMs: 50 } });
    const reply = await req.request('service.call.request', echoBody({ n: 1 }));
    expect(resultOf(reply)).toEqual({ n: 1 });
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seen).size).toBe(1);
    expect(req.stats.socketsRecreated).toBeGreaterThanOrEqual(1);
    // The fresh socket keeps working.
    expect(resultOf(await req.request('service.call.request', echoBody({ n: 2 })))).toEqual({ n: 2 });
  });

  it('serves a raw REQ peer (a pyzmq program) and answers garbage with an error envelope', async () => {
    const { server: rep, endpoint } = await server(transport, echoResult);
    const raw = new zmq.Request({ linger: 0 });
    cleanup.push(() => raw.close());
    raw.connect(endpoint);
    await raw.send(Buffer.from([0x92, 0x01]));
    const [error] = await within(raw.receive(), 5000, 'the error reply');
    expect(codec.decode(error!)).toMatchObject({ type: 'error', body: { code: 'DECODE', retryable: false } });
    await raw.send(requestBytes('raw-1', { hi: 1 }));
    const [reply] = await within(raw.receive(), 5000, 'the reply');
    expect(codec.decode(reply!)).toMatchObject({ type: 'service.call.reply', id: 'raw-1', body: { result: { hi: 1 } } });
    expect(rep.stats).toMatchObject({ requests: 1, malformedRequests: 1, malformedByCode: { DECODE: 1 } });
  });

  it('talks to a raw REP peer', async () => {
    const rep = new zmq.Reply({ linger: 0 });
    cleanup.push(() => rep.close());
    await rep.bind(bindAddress(transport, 'raw-rep'));
    const serving = (async () => {
      const [request] = await rep.receive();
      const { id } = codec.decode(request!);
      await rep.send(replyBytes(id, { raw: true }));
    })();
    const reply = await client(rep.lastEndpoint!).request('service.call.request', echoBody({}));
    await serving;
    expect(resultOf(reply)).toEqual({ raw: true });
  });
});

describe('RepServer when its error path fails', () => {
  it('answers INTERNAL all the same (REP is lockstep), counts it, and serves the next request', async () => {
    const { stamp, setBroken } = breakableStamp('rep-broken');
    const rep = new RepServer({ handler: echoResult, stamp });
    cleanup.push(() => rep.stop());
    const endpoint = await rep.bind(bindAddress('tcp', 'rep-broken'));
    rep.start();
    const raw = new zmq.Request({ linger: 0 });
    cleanup.push(() => raw.close());
    raw.connect(endpoint);
    setBroken(true);
    await raw.send(requestBytes('doomed'));
    const [failed] = await within(raw.receive(), 5000, 'the last-resort reply');
    expect(codec.decode(failed!)).toMatchObject({ type: 'error', id: '0', from: 'rep-broken', body: { code: 'INTERNAL' } });
    expect(rep.stats.replyFailures).toBe(1);
    setBroken(false);
    await raw.send(requestBytes('after', { ok: 3 }));
    const [reply] = await within(raw.receive(), 5000, 'the reply');
    expect(codec.decode(reply!)).toMatchObject({ type: 'service.call.reply', id: 'after', body: { result: { ok: 3 } } });
  });
});

describe('ReqClient failures', () => {
  it('fails with UnavailableError when nothing listens and TimeoutError when the server is silent', async () => {
    await expect(client('tcp://127.0.0.1:1', { timeout: 200 }).request('service.call.request', echoBody({}))).rejects.toBeInstanceOf(UnavailableError);
    const silent = new zmq.Reply({ linger: 0 });
    cleanup.push(() => silent.close());
    await silent.bind('tcp://127.0.0.1:*');
    const req = client(silent.lastEndpoint!, { timeout: 300 });
    await sleep(100); // connected
    await expect(req.request('service.call.request', echoBody({}))).rejects.toBeInstanceOf(TimeoutError);
  });
});
