import { BadRequestError, ConflictError } from '@correio/codec';
import type { AnyEnvelope, Envelope } from '@correio/protocol';
import { ReqClient, UnexpectedReplyError } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { codec, echoBody, resultOf } from './helpers/messages.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** A raw REP peer on a free loopback port that answers each request with `answer(request)`. */
async function rawRep(answer: (request: AnyEnvelope) => Envelope): Promise<string> {
  const rep = new zmq.Reply({ linger: 0 });
  await rep.bind('tcp://127.0.0.1:*');
  const serving = (async () => {
    for await (const [frame] of rep) await rep.send(codec.encode(answer(codec.decode(frame!))));
  })().catch(() => undefined); // ends when the socket closes
  cleanup.push(async () => {
    rep.close();
    await serving;
  });
  return rep.lastEndpoint!;
}

function client(endpoint: string): ReqClient {
  const req = new ReqClient({ endpoint, timeout: 5000 });
  cleanup.push(() => req.close());
  return req;
}

const reply = (request: AnyEnvelope, type: 'service.call.reply' | 'error', body: object): Envelope =>
  ({ v: 1, type, id: request.id, from: 'raw-rep', lc: 1, ts: Date.now(), body }) as Envelope;

describe('ReqClient checks the reply type (raw REP peer over tcp)', () => {
  it('fails a request answered with a type it does not declare, and keeps serving the next ones', async () => {
    let echo = true;
    const endpoint = await rawRep((request) => (echo ? request : reply(request, 'service.call.reply', { result: { ok: 1 } })));
    const req = client(endpoint);
    const failure = await req.request('service.call.request', echoBody({ n: 1 }), { retries: 3 }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(UnexpectedReplyError);
    expect(failure).toMatchObject({ code: 'VALIDATION', retryable: false, data: { expected: 'service.call.reply', got: 'service.call.request' } });
    expect(req.stats).toMatchObject({ sent: 1, retries: 0, unexpectedReplies: 1, replies: 0 });

    echo = false;
    expect(resultOf(await req.request('service.call.request', echoBody({ n: 2 })))).toEqual({ ok: 1 });
    expect(req.stats).toMatchObject({ sent: 2, unexpectedReplies: 1, replies: 1 });
  });

  it('still throws an error reply as its typed error', async () => {
    const endpoint = await rawRep((request) => reply(request, 'error', { code: 'CONFLICT', message: 'already there', retryable: false }));
    await expect(client(endpoint).request('service.call.request', echoBody({}))).rejects.toBeInstanceOf(ConflictError);
  });

  it('refuses, before sending, a type that declares no reply', async () => {
    const endpoint = await rawRep((request) => request);
    const req = client(endpoint);
    await expect(req.request('service.call.reply', { result: {} })).rejects.toBeInstanceOf(BadRequestError);
    expect(req.stats.sent).toBe(0);
  });
});
