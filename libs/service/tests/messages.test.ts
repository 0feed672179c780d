// Typed protocol message handlers: plain protocol requests (as a Python or Go peer sends them)
// served through the broker on named services, over real TCP sockets.
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { LamportClock } from '@correio/clocks';
import { NotFoundError, type CorreioError } from '@correio/codec';
import type { BodyOf } from '@correio/protocol';
import { RequestClient, Subscriber } from '@correio/transport';
import {
  InMemoryMetrics,
  createService,
  defineService,
  handles,
  handlersOf,
  type Middleware,
  type MessageContext,
  type ActionContext,
  type ReplyBody,
  type Service,
  type ServiceOptions,
} from '@correio/service';
import { Infrastructure, deferred, eventually } from './support.js';

let infra: Infrastructure;
const running: Service[] = [];
const clients: RequestClient[] = [];

beforeAll(async () => {
  infra = await Infrastructure.start();
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await Promise.all(running.splice(0).map((service) => service.stop()));
});

afterAll(async () => {
  await infra.close();
});

async function startService(options: Omit<ServiceOptions, 'broker' | 'proxy'>): Promise<Service> {
  const service = createService({ broker: infra.brokerEndpoint, proxy: infra.proxyEndpoints, heartbeat: { interval: 250 }, discovery: { interval: 200 }, ...options });
  running.push(service);
  return service.start();
}

function client(from = 'plain-peer'): RequestClient {
  const created = new RequestClient({ endpoint: infra.brokerEndpoint, from, timeout: 3_000 });
  clients.push(created);
  return created;
}

const failure = (promise: Promise<unknown>): Promise<CorreioError> => promise.then(
  () => {
    throw new Error('expected a failure');
  },
  (error: unknown) => error as CorreioError,
);

class Echo {
  logins = 0;

  @handles('chat.login.request')
  async login(ctx: MessageContext<'chat.login.request'>, body: BodyOf<'chat.login.request'>): Promise<ReplyBody<'chat.login.request'>> {
    this.logins++;
    // The handler learns how the request came: through which broker service, from whom.
    return { user: `${body.user}.${ctx.via}.${ctx.caller}`, first_seen: ctx.lc, last_seen: ctx.ts, created: ctx.type === 'chat.login.request' };
  }

  @handles('chat.channels.request')
  async channels(_ctx: MessageContext<'chat.channels.request'>, body: BodyOf<'chat.channels.request'>) {
    if (body.after === 'missing') throw new NotFoundError('no such page', { data: { after: body.after } });
    if (body.after === 'boom') throw new Error('disk on fire');
    if (body.after === 'bad-reply') return { channels: 'not an array' } as never;
    return { channels: [{ channel: 'general', created_by: 'ana', created_at: 1 }] };
  }
}

describe('typed message handlers', () => {
  it('serves plain protocol requests on every broker service in `serve`, replying with the reply type of MESSAGE_INFO', async () => {
    const echo = new Echo();
    const service = await startService({ name: 'chat', instance: 'm1', handlers: echo, serve: ['chat', 'srv.m1'] });
    const peer = client('py-client-7');
    const viaChat = await peer.request('chat', 'chat.login.request', { user: 'ana' });
    expect(viaChat.type).toBe('chat.login.reply');
    expect(viaChat.from).toBe('m1');
    expect(viaChat.body).toMatchObject({ user: 'ana.chat.py-client-7', created: true });
    const viaServer = await peer.request('srv.m1', 'chat.login.request', { user: 'bia' });
    expect(viaServer.body).toMatchObject({ user: 'bia.srv.m1.py-client-7' });
    // Lamport: the reply's clock is past the request's (the framework merged it on receipt).
    expect(viaServer.lc).toBeGreaterThan(((viaServer.body as BodyOf<'chat.login.reply'>).first_seen));
    // Deduplication keys on the request type too: an id reused for another type is no retry of it.
    await peer.request('srv.m1', 'chat.login.request', { user: 'cid' }, { id: 'shared-id' });
    await expect(peer.request('srv.m1', 'chat.channels.request', {}, { id: 'shared-id' })).resolves.toMatchObject({ type: 'chat.channels.reply' });
    expect(service.health()).toMatchObject({ messages: ['chat.channels.request', 'chat.login.request'], serving: ['chat', 'srv.m1'] });
    // No actions, no events: svc.chat is not registered, so the framework's own types have nowhere to go.
    const [mmi] = await peer.requestRaw('mmi.service', ['svc.chat']);
    expect(mmi?.toString()).toBe('404');
  });

  it('answers with typed errors: the handler`s, INTERNAL for anything else, BAD_REQUEST for a type not served, VALIDATION from the codec', async () => {
    await startService({ name: 'chat', instance: 'm2', handlers: new Echo(), serve: ['srv.m2'] });
    const peer = client();
    await expect(failure(peer.request('srv.m2', 'chat.channels.request', { after: 'missing' }))).resolves.toMatchObject({ code: 'NOT_FOUND', data: { after: 'missing' } });
    await expect(failure(peer.request('srv.m2', 'chat.channels.request', { after: 'boom' }))).resolves.toMatchObject({ code: 'INTERNAL', retryable: true });
    // A reply that breaks its schema never leaves as such: the client gets INTERNAL, not garbage.
    await expect(failure(peer.request('srv.m2', 'chat.channels.request', { after: 'bad-reply' }))).resolves.toMatchObject({ code: 'INTERNAL' });
    const notServed = await failure(peer.request('srv.m2', 'chat.users.request', {}));
    expect(notServed).toMatchObject({ code: 'BAD_REQUEST', data: { type: 'chat.users.request' } });
    expect(notServed.message).toContain('chat.channels.request');
    // The framework's own action type on a message-only service is refused too.
    await expect(failure(peer.request('srv.m2', 'service.call.request', { action: 'chat.x' }))).resolves.toMatchObject({ code: 'BAD_REQUEST' });
    // The client library validates before sending; a raw invalid body is answered by the codec's VALIDATION (see transport's worker tests).
    await expect(failure(peer.request('srv.m2', 'chat.login.request', { user: 'no spaces allowed' }))).resolves.toMatchObject({ code: 'VALIDATION' });
    // The service kept serving.
    await expect(peer.request('srv.m2', 'chat.channels.request', {})).resolves.toMatchObject({ type: 'chat.channels.reply' });
  });

  it('is declared as a plain object with defineService, typed by the request type', async () => {
    const seen: string[] = [];
    const definition = defineService({
      messages: {
        'chat.users.request': (ctx, body) => {
          expectTypeOf(body).toEqualTypeOf<BodyOf<'chat.users.request'>>();
          seen.push(`${ctx.action}:${body.limit ?? 'default'}`);
          return { users: [{ user: 'ana', first_seen: 1, last_seen: 2 }] };
        },
        'chat.history.request': { timeout: '100ms', handler: async (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) },
      },
    });
    expect(Object.keys(handlersOf(definition).messages ?? {}).sort()).toEqual(['chat.history.request', 'chat.users.request']);
    // Without `serve`, messages are served on svc.<name>.
    await startService({ name: 'directory', handlers: definition });
    const peer = client();
    await expect(peer.request('svc.directory', 'chat.users.request', { limit: 5 })).resolves.toMatchObject({ type: 'chat.users.reply', body: { users: [{ user: 'ana' }] } });
    expect(seen).toEqual(['chat.users.request:5']);
    await expect(failure(peer.request('svc.directory', 'chat.history.request', { channel: 'general' }))).resolves.toMatchObject({ code: 'TIMEOUT' });
  });

  it('runs the service-wide middleware, bulkheads, metrics and deduplication around messages as around actions', async () => {
    const order: string[] = [];
    const tagging: Middleware<ActionContext> = (next) => async (ctx, params) => {
      order.push(`before ${ctx.action} ${ctx.caller}`);
      return next(ctx, params);
    };
    const gate = deferred();
    let runs = 0;
    const metrics = new InMemoryMetrics();
    const definition = defineService({
      messages: {
        'chat.publish.request': {
          bulkhead: { concurrency: 1 },
          handler: async (_ctx, body) => {
            runs++;
            if (body.text === 'wait') await gate.promise;
            return { op: { origin: 'm3', seq: runs }, channel: body.channel, lc: 1, ts: 1 };
          },
        },
      },
    });
    await startService({ name: 'chat', instance: 'm3', handlers: definition, serve: ['srv.m3'], middleware: [tagging], metrics, concurrency: 3 });
    const peer = client('writer');
    const slow = peer.request('srv.m3', 'chat.publish.request', { user: 'ana', channel: 'c', text: 'wait' }, { id: 'first-request' });
    await eventually(() => runs === 1);
    // The bulkhead admits one at a time: a second concurrent publish is refused, retryable.
    await expect(failure(peer.request('srv.m3', 'chat.publish.request', { user: 'ana', channel: 'c', text: 'now' }))).resolves.toMatchObject({ code: 'OVERLOADED', retryable: true });
    // A retry of the first (same caller, same id; a new socket, as after a client restart) joins it instead of running again.
    const retry = client('writer').request('srv.m3', 'chat.publish.request', { user: 'ana', channel: 'c', text: 'wait' }, { id: 'first-request' });
    gate.resolve();
    const [a, b] = await Promise.all([slow, retry]);
    expect(b.body).toEqual(a.body);
    expect(runs).toBe(1);
    expect(order[0]).toBe('before chat.publish.request writer');
    expect(metrics.counter('service_calls_total', { action: 'chat.publish.request', outcome: 'OK' })).toBeGreaterThanOrEqual(1);
    expect(metrics.counter('service_calls_total', { action: 'chat.publish.request', outcome: 'OVERLOADED' })).toBe(1);
  });

  it('stamps with the Lamport clock it is given, and publishes protocol events on proxy topics', async () => {
    const clock = new LamportClock();
    clock.observe(1_000); // resumed from a store, say
    const service = await startService({
      name: 'chat',
      instance: 'm4',
      clock,
      serve: ['srv.m4'],
      handlers: defineService({
        messages: {
          'chat.publish.request': (ctx, body) => {
            const lc = clock.tick();
            ctx.publish(`chan/${body.channel}/`, 'chat.publication', { op: { origin: 'm4', seq: 1 }, channel: body.channel, user: body.user ?? 'anonymous', text: body.text, lc, hlc: [Date.now(), 0], ts: Date.now() });
            return { op: { origin: 'm4', seq: 1 }, channel: body.channel, lc, ts: Date.now() };
          },
        },
      }),
    });
    const subscriber = new Subscriber({ topics: ['chan/general/'] });
    subscriber.connect(infra.proxyEndpoints.sub);
    try {
      const received = (async () => {
        for await (const publication of subscriber) return publication;
        return undefined;
      })();
      const peer = client();
      // Subscriptions travel to the publisher asynchronously: publish until one arrives (bounded).
      let reply;
      for (let attempt = 0; attempt < 50; attempt++) {
        reply = await peer.request('srv.m4', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'hello' });
        const arrived = await Promise.race([received, new Promise((resolve) => setTimeout(() => resolve(undefined), 100))]);
        if (arrived) break;
      }
      const publication = await received;
      expect(publication?.envelope.type).toBe('chat.publication');
      expect(publication?.envelope.from).toBe('m4');
      expect((reply!.body as { lc: number }).lc).toBeGreaterThan(1_000);
      expect(reply!.lc).toBeGreaterThan((reply!.body as { lc: number }).lc);
      expect(service.health().lc).toBe(clock.value);
    } finally {
      await subscriber.close();
    }
  });

  it('catches declaration mistakes before anything goes on the wire', () => {
    expect(() => handles('chat.login.reply' as never)).toThrow(/not a protocol request type/);
    expect(() => handles('service.call.request' as never)).toThrow(/@action/);
    class Twice {
      @handles('chat.login.request')
      async a() {
        return { user: 'a', first_seen: 0, last_seen: 0, created: false };
      }

      @handles('chat.login.request')
      async b() {
        return { user: 'b', first_seen: 0, last_seen: 0, created: false };
      }
    }
    expect(() => handlersOf(new Twice())).toThrow(/two methods handle chat.login.request/);
    const options = { broker: 'tcp://127.0.0.1:1', proxy: { pub: 'tcp://127.0.0.1:1', sub: 'tcp://127.0.0.1:1' } };
    expect(() => createService({ ...options, name: 'chat', handlers: new Echo(), serve: ['has space'] })).toThrow(/broker service name/);
    expect(() => createService({ ...options, name: 'chat', handlers: defineService({ actions: { x: { handler: () => 1 } } }), serve: ['chat'] })).toThrow(/no message handlers/);
    // A handler returning the wrong reply shape does not compile.
    defineService({
      messages: {
        // @ts-expect-error: chat.login.reply has no `channels`
        'chat.login.request': () => ({ channels: [] }),
      },
    });
  });

  it('drains in-flight messages on stop, and refuses new ones with UNAVAILABLE', async () => {
    const gate = deferred();
    const started = deferred();
    const service = await startService({
      name: 'chat',
      instance: 'm5',
      serve: ['srv.m5'],
      drainTimeout: 5_000,
      handlers: defineService({
        messages: {
          'chat.channels.request': async () => {
            started.resolve();
            await gate.promise;
            return { channels: [] };
          },
        },
      }),
    });
    const peer = client();
    const inFlight = peer.request('srv.m5', 'chat.channels.request', {});
    await started.promise;
    const stopping = service.stop();
    setTimeout(() => gate.resolve(), 200);
    await expect(inFlight).resolves.toMatchObject({ type: 'chat.channels.reply' });
    await stopping;
    expect(service.state).toBe('stopped');
    expect(() => service.publish('chan/x/', 'chat.publication', {} as never)).toThrow(/not running/);
  });
});
