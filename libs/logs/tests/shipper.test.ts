// LogShipper over real sockets: an in-process broker and a `logs` worker that stores lines by
// identity (as the service does) and can be made to refuse. Lines arrive once each, in order;
// while the service refuses or is absent they wait in the bounded backlog, the oldest dropped
// and counted, and a warning line says how many once shipping works again.
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError, ValidationError } from '@correio/codec';
import { LogShipper } from '@correio/logs';
import { createLogger } from '@correio/observability';
import type { BodyOf, LogLine } from '@correio/protocol';
import { MajordomoBroker, Worker } from '@correio/transport';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitUntil(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A broker and a `logs` worker: `held` maps each line's identity to it; `refusing` makes it answer UNAVAILABLE. */
async function logService() {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-logs', heartbeatIntervalMs: 200 });
  await broker.start();
  cleanups.push(() => broker.close());
  const service = { held: new Map<string, LogLine & { instance: string }>(), batches: 0, refusing: false };
  const worker = new Worker({
    endpoint: broker.endpoints[0]!,
    service: 'logs',
    heartbeatInterval: 200,
    handler: (request): BodyOf<'logs.ship.reply'> => {
      if (service.refusing) throw new UnavailableError('the log store is not ready');
      const body = request.body as BodyOf<'logs.ship.request'>;
      if (body.lines.some((line) => line.msg === 'poison')) throw new ValidationError('this batch is refused for what it holds');
      service.batches++;
      let stored = 0;
      for (const line of body.lines) {
        const identity = `${body.instance}/${body.boot}/${line.seq}`;
        if (!service.held.has(identity)) stored++;
        service.held.set(identity, { ...line, instance: body.instance });
      }
      return { stored, duplicates: body.lines.length - stored, refused: 0 };
    },
  }).start();
  cleanups.push(() => worker.stop());
  await waitUntil(() => broker.snapshot().workers >= 1, 'the logs worker');
  return { endpoint: broker.endpoints[0]!, service };
}

function shipperFor(endpoint: string | undefined, options: { backlogLines?: number } = {}): LogShipper {
  const shipper = new LogShipper({ ...(endpoint === undefined ? {} : { broker: endpoint }), program: 'tester', instance: 'i-1', intervalMs: 10, maxBackoffMs: 100, timeoutMs: 1_000, ...options });
  cleanups.push(() => shipper.close(0));
  return shipper;
}

const seqsOf = (lines: Iterable<LogLine>) => [...lines].map((line) => line.seq).sort((a, b) => a - b);

describe('LogShipper', () => {
  it("ships every line a program logger writes, once, in batches, as the program's own lines", async () => {
    const { endpoint, service } = await logService();
    const shipper = shipperFor(endpoint).start();
    const logger = createLogger('tester', { level: 'info', destination: { write: () => undefined } });
    for (let i = 1; i <= 2500; i++) logger.info({ i }, `line ${i}`);
    logger.debug('below the level: neither written nor shipped');
    await waitUntil(() => shipper.stats.shipped === 2500, 'every line shipped');
    expect(seqsOf(service.held.values())).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    expect(service.held.get(`i-1/${shipper.boot}/7`)).toMatchObject({ level: 30, msg: 'line 7', fields: '{"name":"tester","i":7}' });
    expect(service.batches).toBeLessThan(2500 / 10);
    expect(shipper.stats).toMatchObject({ offered: 2500, dropped: 0, pending: 0 });
  });

  it('keeps lines while the service refuses, then ships them; a full backlog drops its oldest and says how many', async () => {
    const { endpoint, service } = await logService();
    service.refusing = true;
    const shipper = shipperFor(endpoint, { backlogLines: 100 });
    for (let i = 1; i <= 50; i++) shipper.offer(`{"level":30,"time":1,"msg":"early ${i}"}`);
    await waitUntil(() => shipper.stats.failures >= 2, 'refused attempts');
    for (let i = 51; i <= 400; i++) shipper.offer(`{"level":30,"time":1,"msg":"late ${i}"}`);
    expect(shipper.stats.pending).toBeLessThanOrEqual(100 + 50); // the backlog, and a batch in flight
    service.refusing = false;
    await waitUntil(() => shipper.stats.pending === 0, 'the backlog shipped');
    const held = [...service.held.values()];
    const notice = held.find((line) => line.level === 40 && line.msg.includes('dropped'))!;
    const { dropped, first_seq: first, last_seq: last } = JSON.parse(notice.fields!) as { dropped: number; first_seq: number; last_seq: number };
    expect(dropped).toBe(shipper.stats.dropped);
    expect(dropped).toBeGreaterThanOrEqual(400 - 100 - 50);
    const kept = held.filter((line) => line !== notice);
    // Nothing else is lost: every line is held or among the dropped, and the dropped are a run of the oldest.
    expect(kept.length + dropped).toBe(400);
    const missing = Array.from({ length: 400 }, (_, i) => i + 1).filter((seq) => !kept.some((line) => line.seq === seq));
    expect(missing).toHaveLength(dropped);
    expect(missing.every((seq) => seq >= first && seq <= last)).toBe(true);
    expect(seqsOf(kept).slice(-100)).toEqual(Array.from({ length: 100 }, (_, i) => 301 + i));
  });

  it('drops a batch the service refuses for good (a non-retryable error), counts it, and ships the lines behind it', async () => {
    const { endpoint, service } = await logService();
    const shipper = shipperFor(endpoint);
    shipper.offer('{"level":30,"time":1,"msg":"poison"}');
    await waitUntil(() => shipper.stats.failures === 1, 'the refusal');
    for (let i = 1; i <= 20; i++) shipper.offer(`{"level":30,"time":1,"msg":"after ${i}"}`);
    await waitUntil(() => shipper.stats.pending === 0, 'the later lines shipped');
    expect(shipper.stats).toMatchObject({ dropped: 1, failures: 1 });
    const held = [...service.held.values()];
    expect(held.filter((line) => line.msg.startsWith('after'))).toHaveLength(20);
    expect(held.find((line) => line.level === 40)).toMatchObject({ fields: expect.stringContaining('"dropped":1') });
  });

  it('waits for a broker named later, and close ships what is queued', async () => {
    const { endpoint, service } = await logService();
    const shipper = shipperFor(undefined);
    for (let i = 1; i <= 30; i++) shipper.offer(`{"level":30,"time":1,"msg":"before connect ${i}"}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(service.batches).toBe(0);
    shipper.connect(endpoint);
    await shipper.close(5_000);
    expect(service.held.size).toBe(30);
    shipper.offer('{"level":30,"time":1,"msg":"after close"}');
    expect(shipper.stats.offered).toBe(30);
  });

  it('closes within its time-out when no service answers', async () => {
    const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], id: 'broker-empty', heartbeatIntervalMs: 200 });
    await broker.start();
    cleanups.push(() => broker.close());
    const shipper = shipperFor(broker.endpoints[0]!);
    shipper.offer('{"level":50,"time":1,"msg":"nobody hears this"}');
    const started = Date.now();
    await shipper.close(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(shipper.stats).toMatchObject({ shipped: 0, pending: 1 });
  });
});
