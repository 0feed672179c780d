// Services in TypeScript, Python and Go are equals: two instances of each (the drivers of
// SERVICE-DRIVER.md, each written with its language's framework) behind the TypeScript broker and
// proxy call each other's actions, receive each other's broadcasts and emits, and see each other
// come and go through the discovery hooks. Everything over TCP on loopback, each instance a process.
import { join } from 'node:path';
import { killAll, scratchDir } from '@correio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGoPrograms, requirePeerToolchains, startServiceDriver, startTopology, type GoPrograms, type ServiceDriverOptions, type ServiceDriverProcess, type ServiceLanguage, type Topology } from '../src/index.js';

const STARTUP_MS = 180_000;
/** Discovery's announce interval: an instance silent for three of them is down. */
const ANNOUNCE_MS = 1_000;
/** The service each language's instances serve. */
const SERVICES: Readonly<Record<ServiceLanguage, string>> = { ts: 'ts', python: 'py', go: 'go' };
const LANGUAGES = Object.keys(SERVICES) as ServiceLanguage[];
const scratch = scratchDir('correio-interop-services-');
let topology: Topology;
let goPrograms: GoPrograms;
/** Two instances per language, `<service>-1` and `<service>-2`. */
const drivers: ServiceDriverProcess[] = [];
/** The first instance of each language: the callers. */
const first = (language: ServiceLanguage) => drivers.find((driver) => driver.language === language)!;

function start(language: ServiceLanguage, instance: string, name = SERVICES[language]): ServiceDriverProcess {
  const options: ServiceDriverOptions = { name, instance, broker: topology.broker, proxy: topology.proxy!, concurrency: 2, announceInterval: ANNOUNCE_MS };
  return startServiceDriver(language, options, goPrograms);
}

/** Resolves once every driver's on-service-up hook has reported every instance named. */
async function everyoneSees(watchers: readonly ServiceDriverProcess[], instances: readonly string[]): Promise<void> {
  await Promise.all(watchers.flatMap((watcher) => instances.map((instance) => watcher.waitForLine('up', (line) => line['instance'] === instance, 60_000))));
}

beforeAll(async () => {
  requirePeerToolchains();
  [topology, goPrograms] = await Promise.all([startTopology({ dataDir: scratch.dir, proxy: true }), buildGoPrograms(join(scratch.dir, 'bin'))]);
  for (const language of LANGUAGES) for (const n of [1, 2]) drivers.push(start(language, `${SERVICES[language]}-${n}`));
  await Promise.all(drivers.map((driver) => driver.ready(STARTUP_MS)));
  await everyoneSees(drivers, drivers.map((driver) => driver.instance));
}, STARTUP_MS + 120_000);

afterAll(async () => {
  await killAll();
  scratch.remove();
});

describe('microservices in three languages', () => {
  it('every language calls every other language\'s actions: typed results, exact values, typed errors, nested calls across languages', async () => {
    // v1 has no floats (ENCODING.md): integers, strings, booleans, nil, arrays and maps.
    const value = { text: 'olá 🌍', big: -12_345_678_901, list: [1, 'two', null, true, { deep: [[]] }], empty: {} };
    const checks = LANGUAGES.flatMap((caller) =>
      LANGUAGES.map(async (target) => {
        const driver = first(caller);
        const service = SERVICES[target];
        const next = SERVICES[LANGUAGES[(LANGUAGES.indexOf(target) + 1) % LANGUAGES.length]!];
        const label = `${caller} → ${target}`;
        const added = await driver.call(`${service}.add`, { a: 2, b: 40 });
        expect(added, label).toMatchObject({ op: 'result', result: { sum: 42 } });
        expect(String((added as { result: { by: string } }).result.by), label).toMatch(new RegExp(`^${service}-[12]$`));
        expect(await driver.call(`${service}.echo`, value), label).toEqual({ op: 'result', id: expect.any(Number), result: value });
        expect(await driver.call(`${service}.echo`), label).not.toHaveProperty('result');
        expect(await driver.call(`${service}.fail`, { code: 'CONFLICT', message: 'taken' }), label).toMatchObject({ op: 'error', code: 'CONFLICT', message: 'taken', retryable: false });
        expect(await driver.call(`${service}.fail`, { code: 'UNAVAILABLE', message: 'later' }, { retries: 0 }), label).toMatchObject({ op: 'error', code: 'UNAVAILABLE', retryable: true });
        expect(await driver.call(`${service}.add`, { a: 'two', b: 40 }), label).toMatchObject({ op: 'error', code: 'VALIDATION', retryable: false });
        expect(await driver.call(`${service}.nosuch`, {}), label).toMatchObject({ op: 'error', code: 'NOT_FOUND' });
        // A call made inside an action, to a third language.
        const relayed = await driver.call(`${service}.relay`, { action: `${next}.add`, params: { a: 1, b: 2 } });
        expect(relayed, label).toMatchObject({ op: 'result', result: { sum: 3 } });
        expect(String((relayed as { result: { by: string } }).result.by), label).toMatch(new RegExp(`^${next}-[12]$`));
      }),
    );
    await Promise.all(checks);
  }, 120_000);

  it('a broadcast from each language reaches every instance of every language exactly once', async () => {
    for (const language of LANGUAGES) {
      const sender = first(language);
      sender.broadcast('mixed.ping', { from: sender.instance, n: 1 });
      // Per publisher, the proxy keeps order: once the second arrives, a copy of the first would have too.
      sender.broadcast('mixed.ping', { from: sender.instance, n: 2 });
      const fromSender = (n: number) => (line: Record<string, unknown>) => {
        const data = line['data'] as { from?: string; n?: number } | undefined;
        return line['delivery'] === 'broadcast' && data?.from === sender.instance && data?.n === n;
      };
      await Promise.all(drivers.map((driver) => driver.waitForLine('event', fromSender(2), 30_000)));
      for (const driver of drivers) {
        const received = driver.lines('event').filter(fromSender(1));
        expect(received, `${driver.instance} got ${language}'s broadcast`).toHaveLength(1);
        expect(received[0]!['sender']).toBe(sender.instance);
      }
    }
  }, 120_000);

  it('an emit from each language reaches one instance of each group, whatever its language', async () => {
    for (const language of LANGUAGES) {
      const emitter = first(language);
      const ofEmit = (n: number) => (line: Record<string, unknown>) => {
        const data = line['data'] as { from?: string; n?: number } | undefined;
        return line['delivery'] === 'emit' && data?.from === emitter.instance && data?.n === n;
      };
      for (const n of [1, 2]) {
        const report = await emitter.emit('mixed.ping', { from: emitter.instance, n });
        expect([...report.delivered].sort(), `${language}'s emit ${n}`).toEqual(['go', 'py', 'ts']);
        expect(report.failed).toEqual([]);
      }
      for (const service of Object.values(SERVICES)) {
        const group = drivers.filter((driver) => driver.instance.startsWith(`${service}-`));
        // The handler has run before the emit is answered; its line may still be on its way to us.
        for (const n of [1, 2]) await group[0]!.child.waitFor(() => group.some((driver) => driver.lines('event').some(ofEmit(n))), `${service} handled emit ${n}`, 30_000);
        for (const n of [1, 2]) expect(group.flatMap((driver) => driver.lines('event').filter(ofEmit(n))), `${service} handled ${language}'s emit ${n} once`).toHaveLength(1);
      }
    }
  }, 120_000);

  it('discovery hooks fire in every language when an instance starts, drains, and is SIGKILLed', async () => {
    const joining = LANGUAGES.map((language) => start(language, `${SERVICES[language]}-3`));
    await Promise.all(joining.map((driver) => driver.ready(STARTUP_MS)));
    const everybody = [...drivers, ...joining];
    await everyoneSees(everybody, everybody.map((driver) => driver.instance));

    const [tsJoiner, pyJoiner, goJoiner] = joining as [ServiceDriverProcess, ServiceDriverProcess, ServiceDriverProcess];
    tsJoiner.child.kill('SIGTERM'); // drains: announces down
    pyJoiner.child.kill('SIGKILL'); // vanishes: expires after three silent intervals
    expect(await goJoiner.stop(), 'the Go instance drained and exited 0').toBe(0);
    expect((await tsJoiner.child.exited).code, 'the TypeScript instance drained on SIGTERM and exited 0').toBe(0);
    expect(tsJoiner.lines('stopped')).toHaveLength(1);
    const down = (instance: string, reason: string) => (line: Record<string, unknown>) => line['instance'] === instance && line['reason'] === reason;
    await Promise.all(
      drivers.flatMap((watcher) => [
        watcher.waitForLine('down', down(tsJoiner.instance, 'announced'), 30_000),
        watcher.waitForLine('down', down(goJoiner.instance, 'announced'), 30_000),
        watcher.waitForLine('down', down(pyJoiner.instance, 'expired'), 30_000),
      ]),
    );
  }, STARTUP_MS + 60_000);

  it('a Python service SIGKILLed mid-call gives its callers a retryable error or a retried success, never a hang', async () => {
    const doomed = start('python', 'pyk-1', 'pyk');
    await doomed.ready(STARTUP_MS);
    const slow = { ms: 2_000 };
    // Retries reuse the request id; the broker answers UNAVAILABLE (retryable) once it finds the worker dead.
    const retried = first('ts').call('pyk.slow', slow, { timeoutMs: 30_000, retries: 3 });
    const unretried = first('go').call('pyk.slow', slow, { timeoutMs: 30_000, retries: 0 });
    await doomed.child.waitFor(() => doomed.lines('slow').length === 2 || undefined, 'both calls running in pyk-1', 30_000);
    const survivor = start('python', 'pyk-2', 'pyk');
    await survivor.ready(STARTUP_MS);
    doomed.child.kill('SIGKILL');
    expect(await retried).toMatchObject({ op: 'result', result: { slept: 2_000, by: 'pyk-2' } });
    expect(await unretried).toMatchObject({ op: 'error', code: 'UNAVAILABLE', retryable: true });
    expect(await survivor.stop()).toBe(0);
  }, STARTUP_MS + 60_000);
});
