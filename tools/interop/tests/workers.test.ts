// A Python, a Go and a Rust worker serve microservices behind the TypeScript broker (apps/broker, a
// child process); a TypeScript RequestClient calls each, and the Python, Go and Rust clients call
// each other's workers. Everything over TCP on loopback.
import { join } from 'node:path';
import { BadRequestError, CorreioError, NotFoundError } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { killAll, scratchDir } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverParticipant, prepareDrivers, requirePeerToolchains, startTopology, waitForServices, type DriverLanguage, type PeerDriver, type Topology } from '../src/index.js';

const STARTUP_MS = 120_000;
const scratch = scratchDir('correio-interop-workers-');
let topology: Topology;
let client: RequestClient;
let drivers: Readonly<Record<DriverLanguage, PeerDriver>>;
/** The worker each language runs: svc.<name>. */
const WORKERS = { go: 'goecho', python: 'pyecho', rust: 'rsecho' } as const;
/** A second worker of each language speaking packed MDP headers (FRAMES.md §1.12). */
const PACKED_WORKERS = { go: 'gopacked', python: 'pypacked', rust: 'rspacked' } as const;

beforeAll(async () => {
  requirePeerToolchains();
  const [started, prepared] = await Promise.all([startTopology({ dataDir: scratch.dir }), prepareDrivers(join(scratch.dir, 'bin'))]);
  topology = started;
  drivers = prepared;
  const languages = Object.keys(WORKERS) as DriverLanguage[];
  const packed = Object.keys(PACKED_WORKERS) as (keyof typeof PACKED_WORKERS)[];
  await Promise.all([
    ...languages.map((language) => {
      const driver = drivers[language];
      return driver.echoWorker({ broker: topology.broker, name: WORKERS[language], concurrency: 2 }).waitForLine(driver.workerReady, STARTUP_MS);
    }),
    ...packed.map((language) => {
      const driver = drivers[language];
      return driver.echoWorker({ broker: topology.broker, name: PACKED_WORKERS[language], concurrency: 2, framing: 'packed' }).waitForLine(driver.workerReady, STARTUP_MS);
    }),
  ]);
  await waitForServices(topology.broker, [...languages.map((language) => `svc.${WORKERS[language]}`), ...packed.map((language) => `svc.${PACKED_WORKERS[language]}`)], 30_000);
  client = new RequestClient({ endpoint: topology.broker, from: 'ts-interop-client', timeout: 10_000 });
}, STARTUP_MS + 60_000);

afterAll(async () => {
  await client?.close();
  await killAll();
  scratch.remove();
});

async function call(service: string, action: string, params?: unknown): Promise<AnyEnvelope> {
  return client.request(service, 'service.call.request', { action, ...(params === undefined ? {} : { params }) } as never);
}

async function failure(promise: Promise<unknown>): Promise<CorreioError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CorreioError) return error;
    throw error;
  }
  throw new Error('the call succeeded, but a failure was expected');
}

describe('Python, Go and Rust workers behind the TypeScript broker', () => {
  it.each(Object.entries(WORKERS) as [DriverLanguage, string][])('serves a TypeScript client from the %s worker: exact values, concurrent calls, typed errors', async (language, name) => {
    const sender = drivers[language].workerSender(name);
    const service = `svc.${name}`;
    // Every MessagePack type v1 carries survives the trip through the other language unchanged.
    const payload = { text: 'olá ✓ 🚀', n: [0, 1, -1, 127, -33, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER], bin: new Uint8Array([0, 255, 10]), none: null, yes: true, no: false, nested: { list: [{}, []] } };
    const echoed = await call(service, `${name}.echo`, payload);
    expect(echoed.type).toBe('service.call.reply');
    expect(echoed.from).toMatch(sender);
    expect(echoed.body).toEqual({ result: payload });

    // 40 calls in flight at once over one DEALER, spread by the broker over the worker's 2 connections.
    const sums = await Promise.all(Array.from({ length: 40 }, (_, i) => call(service, `${name}.add`, [i, i, 1])));
    expect(sums.map((reply) => (reply.body as { result: number }).result)).toEqual(Array.from({ length: 40 }, (_, i) => 2 * i + 1));
    expect(new Set(sums.map((reply) => reply.from)).size).toBe(1);

    // Errors come back as the typed errors of @correio/codec, with the worker's message.
    const missing = await failure(call(service, `${name}.nope`));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(missing).toMatchObject({ code: 'NOT_FOUND', retryable: false });
    expect(missing.message).toContain(`${name}.nope`);
    const refused = await failure(call(service, `${name}.add`, ['one', 2]));
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(refused).toMatchObject({ code: 'BAD_REQUEST', retryable: false });
  });

  it.each(Object.entries(PACKED_WORKERS))('serves clients of either framing from a %s worker that speaks packed headers', async (_language, name) => {
    const service = `svc.${name}`;
    const payload = { text: 'olá ✓', n: [0, -1, 2 ** 32], bin: new Uint8Array([0, 255]) };
    expect((await call(service, `${name}.echo`, payload)).body).toEqual({ result: payload }); // a packed TypeScript client
    const classic = new RequestClient({ endpoint: topology.broker, from: 'ts-classic-client', timeout: 10_000, framing: 'classic' });
    try {
      const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => classic.request(service, 'service.call.request', { action: `${name}.add`, params: [i, 1] })));
      expect(sums.map((reply) => (reply.body as { result: number }).result)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      await classic.close();
    }
    expect(await failure(call(service, `${name}.nope`))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('tells, through the broker, which services have workers', async () => {
    const mmi = async (service: string) => Buffer.from((await client.requestRaw('mmi.service', [service], { timeout: 5_000 }))[0]!).toString();
    expect(await mmi('svc.goecho')).toBe('200');
    expect(await mmi('svc.pyecho')).toBe('200');
    expect(await mmi('svc.rsecho')).toBe('200');
    expect(await mmi('svc.nobody')).toBe('404');
    const unknown = await failure(call('svc.nobody', 'nobody.echo', 1));
    expect(unknown).toMatchObject({ code: 'UNKNOWN_SERVICE', retryable: false });
  });

  it('carries calls between the peers: each language\'s client calls the next language\'s worker', async () => {
    const callers = await Promise.all(
      (['python', 'go', 'rust'] as const).map((language) =>
        new DriverParticipant(language, `${language}caller`, drivers[language].chat({ broker: topology.broker, proxy: '', user: `${language}caller` })).ready(STARTUP_MS),
      ),
    );
    const [python, go, rust] = callers as [DriverParticipant, DriverParticipant, DriverParticipant];
    try {
      const payload = { text: 'olá', list: [1, -2, Number.MAX_SAFE_INTEGER], none: null, yes: true };
      expect(await python.call('goecho.echo', payload)).toEqual({ result: payload });
      expect(await python.call('goecho.add', [20, 22])).toEqual({ result: 42 });
      expect(await go.call('rsecho.echo', payload)).toEqual({ result: payload });
      expect(await go.call('rsecho.add', [20, 22])).toEqual({ result: 42 });
      expect(await rust.call('pyecho.echo', payload)).toEqual({ result: payload });
      expect(await rust.call('pyecho.add', [20, 22])).toEqual({ result: 42 });
      expect(await rust.call('goecho.echo', payload)).toEqual({ result: payload });
      expect(await failure(python.call('rsecho.nope', null))).toBeInstanceOf(NotFoundError);
      expect(await failure(go.call('pyecho.add', 'not a list'))).toBeInstanceOf(BadRequestError);
      expect(await failure(rust.call('goecho.nope', null))).toBeInstanceOf(NotFoundError);
    } finally {
      await Promise.all(callers.map((caller) => caller.close()));
    }
  });
});
