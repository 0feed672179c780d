import { describe, expect, it, vi } from 'vitest';
import { CorreioError, InternalError, NotFoundError, TimeoutError, UnavailableError } from '@correio/codec';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import {
  Circuit,
  InMemoryMetrics,
  bulkhead,
  circuitBreaker,
  compileCheck,
  compose,
  deduplicate,
  logging,
  metrics,
  retry,
  timeout,
  type ActionContext,
  type CallContext,
  type ClientCallContext,
  type Middleware,
  type Next,
} from '@correio/service';
import { deferred } from './support.js';

function ctx(action = 'greeter.hello', signal = new AbortController().signal): CallContext {
  return { action, id: 'req-1', meta: {}, signal };
}

function clientCtx(retries: number, signal = new AbortController().signal): ClientCallContext {
  return { action: 'greeter.hello', id: 'req-1', meta: {}, signal, attempt: 1, timeout: 1_000, retries };
}

describe('compose', () => {
  it('runs the first middleware outermost', async () => {
    const order: string[] = [];
    const tag =
      (name: string): Middleware =>
      (next) =>
      async (c, p) => {
        order.push(`>${name}`);
        const result = await next(c, p);
        order.push(`<${name}`);
        return result;
      };
    const handler = compose([tag('a'), tag('b')], async () => {
      order.push('handler');
      return 42;
    });
    await expect(handler(ctx(), undefined)).resolves.toBe(42);
    expect(order).toEqual(['>a', '>b', 'handler', '<b', '<a']);
  });
});

describe('timeout', () => {
  it('fails a slow call with TIMEOUT and aborts the signal the handler sees', async () => {
    let seen: AbortSignal | undefined;
    const handler = timeout(20)(async (c) => {
      seen = c.signal;
      await new Promise((resolve) => setTimeout(resolve, 1_000).unref());
    });
    const error = await handler(ctx(), undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as CorreioError).retryable).toBe(true);
    expect(seen?.aborted).toBe(true);
  });

  it('lets a fast call through and uses a per-call limit when given a function', async () => {
    const fast = timeout(() => undefined)(async () => 'ok');
    await expect(fast(ctx(), undefined)).resolves.toBe('ok');
    const limited = timeout(1_000)(async () => 'ok');
    await expect(limited(ctx(), undefined)).resolves.toBe('ok');
  });

  it('forwards the parent signal: aborting the caller aborts the handler', async () => {
    const parent = new AbortController();
    let seen: AbortSignal | undefined;
    const started = deferred();
    const handler = timeout(5_000)(async (c) => {
      seen = c.signal;
      started.resolve();
      await new Promise((resolve) => c.signal.addEventListener('abort', resolve));
      return 'stopped';
    });
    const call = handler(ctx('greeter.hello', parent.signal), undefined);
    await started.promise;
    parent.abort(new Error('caller left'));
    await expect(call).resolves.toBe('stopped');
    expect(seen?.aborted).toBe(true);
  });
});

describe('retry', () => {
  it('retries retryable failures with the same request id, then succeeds', async () => {
    const ids: string[] = [];
    const attempts: number[] = [];
    const handler = retry({ backoff: { initial: 1, max: 2 } })(async (c) => {
      ids.push(c.id);
      attempts.push(c.attempt);
      if (c.attempt < 3) throw new UnavailableError('no worker');
      return 'done';
    });
    await expect(handler(clientCtx(5), undefined)).resolves.toBe('done');
    expect(ids).toEqual(['req-1', 'req-1', 'req-1']);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('gives up after `retries` more attempts and passes the last error on', async () => {
    const next = vi.fn(async () => {
      throw new TimeoutError('slow');
    });
    const error = await retry({ backoff: { initial: 1, max: 1 } })(next)(clientCtx(2), undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(next).toHaveBeenCalledTimes(3);
  });

  it('does not retry a non-retryable error, and turns a plain Error into INTERNAL', async () => {
    const notFound = vi.fn(async () => {
      throw new NotFoundError('no such user');
    });
    await expect(retry()(notFound)(clientCtx(3), undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(notFound).toHaveBeenCalledTimes(1);
    const plain = retry({ isRetryable: () => false })(async () => {
      throw new Error('boom');
    });
    await expect(plain(clientCtx(3), undefined)).rejects.toMatchObject({ code: 'INTERNAL', message: 'boom' });
  });

  it('stops waiting for the next attempt when the call is aborted', async () => {
    const controller = new AbortController();
    const handler = retry({ backoff: { initial: 10_000, max: 10_000, jitter: 0 } })(async () => {
      setTimeout(() => controller.abort(), 5);
      throw new UnavailableError('down');
    });
    await expect(handler(clientCtx(5, controller.signal), undefined)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('Circuit', () => {
  const settings = (now: () => number) => ({ threshold: 3, windowMs: 1_000, coolDownMs: 500, halfOpenCalls: 1, now });

  it('opens after threshold failures inside the window, half-opens after the cool-down, closes on a good trial', () => {
    let now = 0;
    const changes: string[] = [];
    const circuit = new Circuit(settings(() => now), (from, to) => changes.push(`${from}->${to}`));
    for (let i = 0; i < 3; i++) circuit.record(circuit.tryAcquire()!, true);
    expect(circuit.state).toBe('open');
    expect(circuit.tryAcquire()).toBeUndefined();
    now = 499;
    expect(circuit.tryAcquire()).toBeUndefined();
    now = 500;
    const trial = circuit.tryAcquire()!;
    expect(trial.trial).toBe(true);
    expect(circuit.state).toBe('half-open');
    expect(circuit.tryAcquire()).toBeUndefined(); // one trial at a time
    circuit.record(trial, false);
    expect(circuit.state).toBe('closed');
    expect(changes).toEqual(['closed->open', 'open->half-open', 'half-open->closed']);
  });

  it('forgets failures older than the window', () => {
    let now = 0;
    const circuit = new Circuit(settings(() => now));
    circuit.record(circuit.tryAcquire()!, true);
    circuit.record(circuit.tryAcquire()!, true);
    now = 1_001;
    circuit.record(circuit.tryAcquire()!, true);
    expect(circuit.state).toBe('closed');
    circuit.record(circuit.tryAcquire()!, true);
    circuit.record(circuit.tryAcquire()!, true);
    expect(circuit.state).toBe('open');
  });

  it('reopens when the trial fails, and ignores late results of calls admitted before opening', () => {
    let now = 0;
    const circuit = new Circuit(settings(() => now));
    const early = circuit.tryAcquire()!;
    for (let i = 0; i < 3; i++) circuit.record(circuit.tryAcquire()!, true);
    now = 600;
    const trial = circuit.tryAcquire()!;
    circuit.record(early, false); // a late success of an old call is not the trial
    expect(circuit.state).toBe('half-open');
    circuit.record(trial, true);
    expect(circuit.state).toBe('open');
    expect(circuit.snapshot().retryAt).toBe(1_100);
  });
});

describe('circuitBreaker middleware', () => {
  it('fails fast with UNAVAILABLE while open, without calling the callee, and recovers after the cool-down', async () => {
    let now = 0;
    let healthy = false;
    const callee = vi.fn(async () => {
      if (!healthy) throw new InternalError('database down');
      return 'ok';
    });
    const breaker = circuitBreaker({ threshold: 2, window: 1_000, coolDown: 100, now: () => now });
    const call = breaker(callee);
    await expect(call(ctx(), undefined)).rejects.toMatchObject({ code: 'INTERNAL' });
    await expect(call(ctx(), undefined)).rejects.toMatchObject({ code: 'INTERNAL' });
    const open = await call(ctx(), undefined).catch((e: unknown) => e);
    expect(open).toMatchObject({ code: 'UNAVAILABLE', retryable: true, data: { circuit: 'open', key: 'greeter.hello', retryAfter: 100 } });
    expect(callee).toHaveBeenCalledTimes(2);
    expect(breaker.circuits()['greeter.hello']?.state).toBe('open');
    now = 100;
    healthy = true;
    await expect(call(ctx(), undefined)).resolves.toBe('ok');
    expect(breaker.circuits()['greeter.hello']?.state).toBe('closed');
  });

  it('does not count the caller’s mistakes as failures of the callee', async () => {
    const breaker = circuitBreaker({ threshold: 1 });
    const call = breaker(async () => {
      throw new NotFoundError('no such user');
    });
    await expect(call(ctx(), undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(call(ctx(), undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(breaker.circuits()['greeter.hello']?.state).toBe('closed');
  });

  it('keeps one circuit per key', async () => {
    const breaker = circuitBreaker({ threshold: 1 });
    const call = breaker(async (c) => {
      if (c.action === 'a.bad') throw new UnavailableError('down');
      return c.action;
    });
    await expect(call(ctx('a.bad'), undefined)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(call(ctx('a.good'), undefined)).resolves.toBe('a.good');
    expect(breaker.circuits()).toMatchObject({ 'a.bad': { state: 'open' }, 'a.good': { state: 'closed' } });
  });
});

describe('bulkhead', () => {
  it('runs at most `concurrency` calls, queues `queue` more, refuses the rest with OVERLOADED', async () => {
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const compartment = bulkhead({ concurrency: 2, queue: 1 });
    const call = compartment(async () => {
      running++;
      peak = Math.max(peak, running);
      await gate.promise;
      running--;
      return 'done';
    });
    const calls = [1, 2, 3].map(() => call(ctx(), undefined));
    await Promise.resolve();
    expect(compartment.snapshot()).toMatchObject({ running: 2, queued: 1 });
    const refused = await call(ctx(), undefined).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'OVERLOADED', retryable: true });
    gate.resolve();
    await expect(Promise.all(calls)).resolves.toEqual(['done', 'done', 'done']);
    expect(peak).toBe(2);
    expect(compartment.snapshot()).toMatchObject({ running: 0, queued: 0, rejected: 1 });
  });

  it('drops a queued call whose signal aborts, freeing its place', async () => {
    const gate = deferred();
    const compartment = bulkhead({ concurrency: 1, queue: 1 });
    const call = compartment(async () => gate.promise);
    const first = call(ctx(), undefined);
    const controller = new AbortController();
    const queued = call(ctx('greeter.hello', controller.signal), undefined);
    controller.abort(new Error('gave up'));
    await expect(queued).rejects.toThrow('gave up');
    expect(compartment.snapshot().queued).toBe(0);
    gate.resolve();
    await first;
    expect(compartment.snapshot().running).toBe(0);
  });
});

describe('compileCheck', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', maxLength: 5 }, tags: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' } } } } },
    required: ['name'],
    additionalProperties: false,
  };
  const check = compileCheck(schema, { owner: 'greeter.hello', name: 'params', pointer: '/body/params' });

  it('accepts valid values', () => {
    expect(() => check({ name: 'ana' })).not.toThrow();
  });

  it.each([
    [{ name: 'anabela' }, '/body/params/name', 'params.name must NOT have more than 5 characters'],
    [{}, '/body/params/name', 'params.name is required'],
    [{ name: 'a', extra: 1 }, '/body/params/extra', 'params.extra is not allowed'],
    [{ name: 'a', tags: [{ label: 'x' }, { label: 3 }] }, '/body/params/tags/1/label', 'params.tags[1].label must be string'],
  ])('names the offending field of %j', (value, path, message) => {
    const error = (() => {
      try {
        check(value);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toMatchObject({ code: 'VALIDATION', retryable: false, data: { path } });
    expect((error as Error).message).toBe(`greeter.hello: ${message}`);
  });

  it('refuses an invalid schema at definition time', () => {
    expect(() => compileCheck({ type: 'object', maxLenght: 3 }, { owner: 'x.y', name: 'params', pointer: '/body/params' })).toThrow(/schema of x.y is invalid/);
  });
});

describe('metrics and logging', () => {
  it('counts calls by outcome and records their latency', async () => {
    const recorder = new InMemoryMetrics();
    const measured = metrics({ recorder, side: 'service', labels: { service: 'greeter' } });
    const ok = measured(async () => 'ok');
    const failing = measured(async () => {
      throw new Error('boom');
    });
    await ok(ctx(), undefined);
    await ok(ctx(), undefined);
    await failing(ctx(), undefined).catch(() => undefined);
    expect(recorder.counter('service_calls_total', { action: 'greeter.hello', outcome: 'OK' })).toBe(2);
    expect(recorder.counter('service_calls_total', { outcome: 'INTERNAL' })).toBe(1);
    const histogram = recorder.snapshot().histograms['service_call_duration_seconds{action="greeter.hello",service="greeter"}'];
    expect(histogram?.count).toBe(3);
    expect(histogram?.buckets['+Inf']).toBe(3);
  });

  it('logs failures with their code; INTERNAL at error level', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const next: Next = async (c) => {
      if (c.id === 'bad') throw new Error('boom');
      if (c.id === 'early') throw new UnavailableError('not ready yet');
      if (c.id === 'slow') throw new TimeoutError('took too long');
      return 1;
    };
    const logged = logging({ logger })(next);
    await logged(ctx(), undefined);
    await logged({ ...ctx(), id: 'bad' }, undefined).catch(() => undefined);
    await logged({ ...ctx(), id: 'early' }, undefined).catch(() => undefined);
    await logged({ ...ctx(), id: 'slow' }, undefined).catch(() => undefined);
    expect(lines[0]).toMatchObject({ level: 20, action: 'greeter.hello', msg: 'call ok' });
    expect(lines[1]).toMatchObject({ level: 50, code: 'INTERNAL', id: 'bad', msg: 'call failed: boom' });
    // Not ready is expected while a cluster forms: info, below the default warn level.
    expect(lines[2]).toMatchObject({ level: 30, code: 'UNAVAILABLE', id: 'early', msg: 'call deferred: not ready yet' });
    expect(lines[3]).toMatchObject({ level: 40, code: 'TIMEOUT', id: 'slow' });
  });
});

describe('deduplicate', () => {
  const actionCtx = (id: string, caller = 'client-1') => ({ ...ctx(), id, caller }) as unknown as ActionContext;

  it('answers a repeated request id from the same caller with the first outcome, joining it while it runs', async () => {
    let runs = 0;
    const gate = deferred();
    const handler = deduplicate()(async () => {
      runs++;
      await gate.promise;
      return `result ${runs}`;
    });
    const first = handler(actionCtx('a'), undefined);
    const joined = handler(actionCtx('a'), undefined);
    const other = handler(actionCtx('a', 'client-2'), undefined);
    gate.resolve();
    expect(await Promise.all([first, joined, other])).toEqual(['result 2', 'result 2', 'result 2']);
    expect(runs).toBe(2);
    await expect(handler(actionCtx('a'), undefined)).resolves.toBe('result 2');
    expect(runs).toBe(2);
  });

  it('remembers non-retryable failures but runs a retry of a retryable one', async () => {
    let runs = 0;
    const handler = deduplicate()(async (c) => {
      runs++;
      throw c.id === 'bad' ? new NotFoundError('gone') : new UnavailableError('busy');
    });
    await expect(handler(actionCtx('bad'), undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(handler(actionCtx('bad'), undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(runs).toBe(1);
    await expect(handler(actionCtx('busy'), undefined)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(handler(actionCtx('busy'), undefined)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(runs).toBe(3);
  });

  it('forgets the oldest outcomes beyond max and expired ones after ttl', async () => {
    let now = 0;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      let runs = 0;
      const handler = deduplicate({ ttl: 100, max: 2 })(async () => ++runs);
      await handler(actionCtx('a'), undefined);
      await handler(actionCtx('b'), undefined);
      await handler(actionCtx('c'), undefined);
      expect(await handler(actionCtx('a'), undefined)).toBe(4); // 'a' was evicted by 'c'
      expect(await handler(actionCtx('c'), undefined)).toBe(3);
      now = 101;
      expect(await handler(actionCtx('c'), undefined)).toBe(5);
    } finally {
      Date.now = realNow;
    }
  });
});
