// One process, real sockets: an in-process broker and proxy, services and clients over TCP.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, CorreioError, NotFoundError, ValidationError } from '@correio/codec';
import { MessageCodec } from '@correio/codec';
import { ManagedSocket, encodePublicationHeader } from '@correio/transport';
import { Registry } from 'prom-client';
import {
  InMemoryMetrics,
  MAX_GAP_TOPIC_LABELS,
  PromMetrics,
  ServiceClient,
  action,
  createService,
  defineService,
  on,
  task,
  type ActionContext,
  type ClassContract,
  type EventContext,
  type Service,
  type ServiceEvent,
  type ServiceOptions,
  type TaskContext,
} from '@correio/service';
import { Infrastructure, deferred, eventually } from './support.js';

let infra: Infrastructure;
const running: { stop(): Promise<void> }[] = [];
const clients: ServiceClient[] = [];

beforeAll(async () => {
  infra = await Infrastructure.start();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(running.splice(0).map((service) => service.stop()));
});

afterAll(async () => {
  await infra.close();
});

async function startService(options: Omit<ServiceOptions, 'broker' | 'proxy'>): Promise<Service> {
  const service = createService({
    broker: infra.brokerEndpoint,
    proxy: infra.proxyEndpoints,
    heartbeat: { interval: 250 },
    discovery: { interval: 200 },
    ...options,
  });
  running.push(service);
  return service.start();
}

function client(options: Partial<ConstructorParameters<typeof ServiceClient>[0]> = {}): ServiceClient {
  const created = new ServiceClient({ broker: infra.brokerEndpoint, timeout: 3_000, ...options });
  clients.push(created);
  return created;
}

class Greeter {
  calls = 0;

  @action({ params: { type: 'object', properties: { name: { type: 'string', maxLength: 50 } }, required: ['name'], additionalProperties: false } })
  async hello(ctx: ActionContext, params: { name: string }) {
    this.calls++;
    return { greeting: `hi ${params.name}`, lc: ctx.lc, caller: ctx.caller };
  }

  @action()
  async find(_ctx: ActionContext, params: { user: string }) {
    throw new NotFoundError(`no user ${params.user}`, { data: { user: params.user } });
  }

  @action()
  async clash() {
    throw new ConflictError('already taken', { retryable: true, data: { channel: 'general' } });
  }

  @action()
  async crash() {
    throw new Error('database exploded');
  }

  @action()
  async nothing() {
    return undefined;
  }
}

type GreeterContract = ClassContract<'greeter', Greeter, 'hello' | 'nothing'>;

describe('actions over the broker', () => {
  it('returns typed results, and carries the envelope: caller id and Lamport clock', async () => {
    await startService({ name: 'greeter', handlers: new Greeter() });
    const typed = client({ id: 'test-client' }) as unknown as ServiceClient<GreeterContract>;
    const reply = await typed.call('greeter.hello', { name: 'ana' });
    expect(reply.greeting).toBe('hi ana');
    expect(reply.caller).toBe('test-client');
    expect(reply.lc).toBeGreaterThan(0);
    // The reply carried the service's clock, which had merged the request's: the client is past both.
    const second = await typed.call('greeter.hello', { name: 'bia' });
    expect(second.lc).toBeGreaterThan(reply.lc);
    await expect(typed.call('greeter.nothing')).resolves.toBeUndefined();
  });

  it('rejects invalid params with VALIDATION naming the field, before the handler runs', async () => {
    const greeter = new Greeter();
    await startService({ name: 'greeter', handlers: greeter });
    const error = await client()
      .call('greeter.hello', { name: 'x'.repeat(51) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'VALIDATION', retryable: false, data: { path: '/body/params/name', keyword: 'maxLength' } });
    expect((error as Error).message).toContain('params.name');
    await expect(client().call('greeter.hello', {})).rejects.toMatchObject({ code: 'VALIDATION', data: { path: '/body/params/name' } });
    await expect(client().call('greeter.hello', { name: 'a', admin: true })).rejects.toMatchObject({ data: { path: '/body/params/admin' } });
    expect(greeter.calls).toBe(0);
  });

  it('carries typed errors across the wire: code, message, data and retryable; a plain Error becomes INTERNAL', async () => {
    await startService({ name: 'greeter', handlers: new Greeter() });
    const c = client();
    const notFound = await c.call('greeter.find', { user: 'zé' }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', message: 'no user zé', retryable: false, data: { user: 'zé' } });
    await expect(c.call('greeter.clash')).rejects.toMatchObject({ code: 'CONFLICT', retryable: true, data: { channel: 'general' } });
    await expect(c.call('greeter.crash')).rejects.toMatchObject({ code: 'INTERNAL', message: 'database exploded', retryable: true });
    await expect(c.call('greeter.missing')).rejects.toMatchObject({ code: 'NOT_FOUND', data: { action: 'greeter.missing' } });
    await expect(c.call('nobody.home')).rejects.toMatchObject({ code: 'UNKNOWN_SERVICE' });
    await expect(c.call('NotAnAction')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('answers a retried request id without running the action again', async () => {
    const greeter = new Greeter();
    await startService({ name: 'greeter', handlers: greeter });
    const c = client();
    const first = await c.call('greeter.hello', { name: 'ana' }, { id: 'same-request-id' });
    const retried = await c.call('greeter.hello', { name: 'ana' }, { id: 'same-request-id' });
    expect(retried).toEqual(first);
    expect(greeter.calls).toBe(1);
    await c.call('greeter.hello', { name: 'ana' });
    expect(greeter.calls).toBe(2);
  });

  it('times an action out, aborting its signal, and honours a shorter caller deadline', async () => {
    const aborted: string[] = [];
    const slow = (name: string) => ({
      async handler(ctx: ActionContext) {
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        aborted.push(name);
        return 'too late';
      },
    });
    await startService({ name: 'slow', handlers: defineService({ actions: { own: { timeout: 200, ...slow('own') }, inherited: slow('inherited') } }), timeout: 60_000 });
    const c = client({ timeout: 5_000 });
    await expect(c.call('slow.own')).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
    // The caller waits 300ms; the service learns that and stops working for it then.
    await expect(c.call('slow.inherited', undefined, { timeout: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await eventually(() => aborted.length === 2, 5_000, 'both handlers aborted');
    expect(aborted.sort()).toEqual(['inherited', 'own']);
  });

  it('propagates meta and the remaining deadline to nested calls', async () => {
    await startService({
      name: 'inner',
      handlers: defineService({ actions: { echo: { handler: (ctx: ActionContext) => ({ meta: ctx.meta, deadlineSet: ctx.deadline !== undefined }) } } }),
    });
    await startService({
      name: 'outer',
      handlers: defineService({ actions: { relay: { handler: (ctx: ActionContext) => ctx.call('inner.echo') } } }),
    });
    await expect(client().call('outer.relay', undefined, { meta: { trace: 'abc' } })).resolves.toEqual({ meta: { trace: 'abc' }, deadlineSet: true });
  });
});

describe('resilience middleware over real sockets', () => {
  it('opens the circuit after repeated failures, fails fast while open, and closes after the cool-down', async () => {
    let failing = true;
    let served = 0;
    await startService({
      name: 'flaky',
      handlers: defineService({
        actions: {
          maybe: {
            handler() {
              served++;
              if (failing) throw new Error('backend down');
              return 'ok';
            },
          },
        },
      }),
    });
    const changes: string[] = [];
    const c = client({ circuitBreaker: { threshold: 3, window: 10_000, coolDown: 400, onStateChange: (_key, from, to) => changes.push(`${from}->${to}`) } });
    for (let i = 0; i < 3; i++) await expect(c.call('flaky.maybe')).rejects.toMatchObject({ code: 'INTERNAL' });
    const open = await c.call('flaky.maybe').catch((e: unknown) => e);
    expect(open).toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { circuit: 'open', key: 'flaky.maybe' } });
    expect(served).toBe(3);
    expect(c.circuits()['flaky.maybe']?.state).toBe('open');
    failing = false;
    await eventually(async () => (await c.call('flaky.maybe').catch(() => 'refused')) === 'ok', 5_000, 'circuit closed again');
    expect(c.circuits()['flaky.maybe']?.state).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('limits an action with a bulkhead: the excess is refused with OVERLOADED', async () => {
    const gate = deferred();
    let entered = 0;
    const service = await startService({
      name: 'limited',
      concurrency: 6,
      handlers: defineService({
        actions: {
          heavy: {
            bulkhead: { concurrency: 2, queue: 1 },
            async handler() {
              entered++;
              await gate.promise;
              return 'done';
            },
          },
        },
      }),
    });
    const c = client();
    const calls = Array.from({ length: 5 }, () => c.call('limited.heavy').then((value) => ({ value }), (error: unknown) => ({ error })));
    await eventually(() => service.health().bulkheads['limited.heavy']?.rejected === 2, 5_000, 'two refused');
    expect(service.health().bulkheads['limited.heavy']).toMatchObject({ running: 2, queued: 1 });
    expect(entered).toBe(2);
    gate.resolve();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => 'value' in o)).toHaveLength(3);
    const refused = outcomes.filter((o): o is { error: unknown } => 'error' in o).map((o) => o.error);
    expect(refused).toHaveLength(2);
    for (const error of refused) expect(error).toMatchObject({ code: 'OVERLOADED', retryable: true });
  });
});

describe('tasks', () => {
  it('restarts a failing task with backoff, reports it in health(), and cancels it on stop', async () => {
    const runs: number[] = [];
    let cancelled = false;
    class Worker {
      @task({ backoff: { initial: 50, max: 200, jitter: 0 } })
      async pump(ctx: TaskContext) {
        runs.push(ctx.run);
        if (ctx.run <= 2) throw new Error(`pump failed on run ${ctx.run}`);
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        cancelled = true;
      }
    }
    const service = await startService({ name: 'pumps', handlers: new Worker() });
    await eventually(() => runs.length === 3, 5_000, 'third run');
    const status = service.health().tasks['pump']!;
    expect(status).toMatchObject({ state: 'running', runs: 3, restarts: 2, lastError: { code: 'INTERNAL', message: 'pump failed on run 2' } });
    await service.stop();
    expect(cancelled).toBe(true);
    expect(service.health().tasks['pump']?.state).toBe('stopped');
  });

  it('runs a periodic task at its rate and stops it between runs', async () => {
    let runs = 0;
    const service = await startService({
      name: 'ticker',
      handlers: defineService({ tasks: { tick: { every: '50ms', immediate: true, handler: () => void runs++ } } }),
    });
    await eventually(() => runs >= 3, 5_000, 'three ticks');
    expect(['idle', 'running']).toContain(service.health().tasks['tick']?.state);
    await service.stop();
    const after = runs;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(runs).toBe(after);
  });
});

describe('events and discovery in one process', () => {
  it('serves the same handlers declared with decorators or with defineService', async () => {
    const seen: string[] = [];
    class Decorated {
      @on('order.placed')
      async placed(_ctx: EventContext, event: ServiceEvent<{ id: string }>) {
        seen.push(`decorated:${event.data.id}:${event.delivery}`);
      }
    }
    await startService({ name: 'decorated', handlers: new Decorated() });
    await startService({
      name: 'plain',
      handlers: defineService({
        events: { 'order.placed': { data: { type: 'object', required: ['id'] }, handler: (_ctx, event: ServiceEvent<{ id: string }>) => void seen.push(`plain:${event.data.id}:${event.delivery}`) } },
      }),
    });
    const emitter = await startService({ name: 'shop', handlers: defineService({}) });
    await eventually(() => emitter.discovery.subscribers('order.placed').length === 2, 5_000, 'both subscribers known');
    const report = await emitter.emit('order.placed', { id: 'o1' });
    expect(report.delivered).toEqual(['decorated', 'plain']);
    expect(seen.sort()).toEqual(['decorated:o1:emit', 'plain:o1:emit']);
    // Data that breaks the subscriber's schema is refused to the emitter, by group.
    const refused = await emitter.emit('order.placed', { nope: 1 });
    expect(refused.delivered).toEqual(['decorated']);
    expect(refused.failed).toEqual([{ group: 'plain', error: expect.objectContaining({ code: 'VALIDATION' }) }]);
    await emitter.broadcast('order.placed', { id: 'o2' });
    await eventually(() => seen.filter((s) => s.includes('o2')).length === 2, 5_000, 'broadcast to both');
  });

  it('waitFor resolves when services come up and fails with TIMEOUT naming those still missing', async () => {
    const waiter = await startService({ name: 'waiter', handlers: defineService({}) });
    const waiting = waiter.waitFor(['late'], { timeout: 10_000 });
    await startService({ name: 'late', handlers: defineService({ actions: { ping: { handler: () => 'pong' } } }) });
    await waiting;
    await expect(waiter.waitFor(['late', 'never'], { timeout: 300 })).rejects.toMatchObject({ code: 'TIMEOUT', data: { missing: ['never'] } });
  });

  it('drains an in-flight action on stop, then refuses new calls', async () => {
    const started = deferred();
    const release = deferred();
    const service = await startService({
      name: 'drainer',
      drainTimeout: 5_000,
      handlers: defineService({
        actions: {
          work: {
            async handler() {
              started.resolve();
              await release.promise;
              return 'finished';
            },
          },
        },
      }),
    });
    const c = client();
    const inFlight = c.call('drainer.work');
    await started.promise;
    const stopping = service.stop();
    expect(service.state).toBe('stopping');
    setTimeout(() => release.resolve(), 100);
    await expect(inFlight).resolves.toBe('finished');
    await stopping;
    expect(service.state).toBe('stopped');
    const after = await c.call('drainer.work', undefined, { timeout: 1_000 }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(CorreioError);
    expect((after as CorreioError).retryable).toBe(true);
  });
});

describe('broadcast gaps', () => {
  it('reports publications lost on a proxy topic through onGap, the log and health()', async () => {
    const gaps: { topic: string; missed: number }[] = [];
    const seen: string[] = [];
    const service = await startService({
      name: 'listener',
      handlers: defineService({ events: { 'tick.tock': { handler: (_ctx, event: ServiceEvent<{ n: number }>) => void seen.push(String(event.data.n)) } } }),
      hooks: { onGap: (gap) => void gaps.push({ topic: gap.topic, missed: gap.missed }) },
    });
    // A hand-made publisher that skips sequence numbers 2 to 4, as a lossy link would.
    const codec = new MessageCodec();
    const socket = new ManagedSocket('pub');
    socket.connect(infra.proxyEndpoints.pub);
    const publish = (seq: number) => {
      const envelope = { v: 1, type: 'service.event', id: `gap-${seq}`, from: 'lossy', lc: seq, ts: Date.now(), body: { event: 'tick.tock', data: { n: seq }, sender: 'lossy' } } as const;
      return socket.send(['svc/tick.tock/', encodePublicationHeader({ p: 'lossy-1', s: seq, n: 1 }), codec.encode(envelope)]);
    };
    try {
      // Sequence 1 again until it arrives (the subscription takes a moment to reach the publisher);
      // a repeated 1 reads as a publisher restart (FRAMES.md §3.4), not as a gap.
      await eventually(async () => {
        await publish(1);
        return seen.includes('1');
      }, 10_000, 'first publication');
      await publish(5);
      await eventually(() => seen.includes('5'), 5_000, 'fifth publication');
    } finally {
      await socket.close();
    }
    expect([...new Set(seen)]).toEqual(['1', '5']);
    expect(gaps).toEqual([{ topic: 'svc/tick.tock/', missed: 3 }]);
    expect(service.health().missedPublications).toBe(3);
  });

  it('labels gaps by topic for at most MAX_GAP_TOPIC_LABELS topics: any publisher picks topics, so the rest count under other', async () => {
    const topics = MAX_GAP_TOPIC_LABELS + 44;
    const memory = new InMemoryMetrics();
    const seen = new Set<string>();
    const service = await startService({
      name: 'gapped',
      handlers: defineService({ events: { 'tick.tock': { handler: (_ctx, event: ServiceEvent<{ n: number }>) => void seen.add(String(event.data.n)) } } }),
      metrics: memory,
    });
    const codec = new MessageCodec();
    const socket = new ManagedSocket('pub');
    socket.connect(infra.proxyEndpoints.pub);
    // Every topic is a stream of its own under the subscribed prefix svc/tick.tock/: 1 then 3 is a gap of one.
    const publish = (topic: number, seq: number) => {
      const envelope = { v: 1, type: 'service.event', id: `t${topic}-${seq}`, from: 'hostile', lc: seq, ts: Date.now(), body: { event: 'tick.tock', data: { n: topic * 10 + seq }, sender: 'hostile' } } as const;
      return socket.send([`svc/tick.tock/t${topic}`, encodePublicationHeader({ p: 'hostile-1', s: seq, n: 1 }), codec.encode(envelope)]);
    };
    try {
      await eventually(async () => {
        await publish(0, 1);
        return seen.has('1');
      }, 10_000, 'first publication');
      for (let topic = 1; topic < topics; topic++) await publish(topic, 1);
      for (let topic = 0; topic < topics; topic++) await publish(topic, 3);
      await eventually(() => service.health().missedPublications === topics, 10_000, 'a gap on every topic');
    } finally {
      await socket.close();
    }
    const series = Object.keys(memory.snapshot().counters).filter((key) => key.startsWith('service_event_gaps_total{'));
    expect(series).toHaveLength(MAX_GAP_TOPIC_LABELS + 1);
    expect(memory.counter('service_event_gaps_total', { topic: 'other' })).toBe(topics - MAX_GAP_TOPIC_LABELS);
    expect(memory.counter('service_event_gaps_total', { topic: 'svc/tick.tock/t0' })).toBe(1);
    expect(memory.counter('service_event_gaps_total')).toBe(topics);
  });
});

describe('metrics', () => {
  it('records calls in plain objects or in a prom-client registry', async () => {
    const memory = new InMemoryMetrics();
    await startService({ name: 'greeter', handlers: new Greeter(), metrics: memory });
    const c = client();
    await c.call('greeter.hello', { name: 'ana' });
    await c.call('greeter.crash').catch(() => undefined);
    expect(memory.counter('service_calls_total', { action: 'greeter.hello', outcome: 'OK' })).toBe(1);
    expect(memory.counter('service_calls_total', { action: 'greeter.crash', outcome: 'INTERNAL' })).toBe(1);
    expect(memory.snapshot().histograms['service_call_duration_seconds{action="greeter.hello",service="greeter"}']?.count).toBe(1);

    const registry = new Registry();
    const promClient = client({ metrics: new PromMetrics(registry) });
    await promClient.call('greeter.hello', { name: 'bia' });
    const text = await registry.metrics();
    expect(text).toContain('correio_client_calls_total{action="greeter.hello",outcome="OK"} 1');
    expect(text).toContain('correio_client_call_duration_seconds_bucket');
  });
});

describe('client', () => {
  it('gives up a call when its signal aborts, with a typed error', async () => {
    await startService({
      name: 'sleepy',
      handlers: defineService({ actions: { nap: { handler: (ctx: ActionContext) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)) } } }),
    });
    const controller = new AbortController();
    const call = client().call('sleepy.nap', undefined, { signal: controller.signal, retries: 3, timeout: 500 });
    setTimeout(() => controller.abort(), 50);
    await expect(call).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false, data: { aborted: true } });
  });
});
