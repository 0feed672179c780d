// Failure handling with real processes: killed, paused and misbehaving peers, and broker restarts.
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { freePort, killAll, readMetric, sleep } from '@correio/testing';
import { awaitWorkers, startBrokerProcess, startClient, startWorker } from './helpers/children.js';

const HEARTBEAT = ['--heartbeat', '250', '--liveness', '3'];

afterEach(killAll);

describe('broker failures', () => {
  it('a worker killed with SIGKILL mid-stream: every client gets a reply or a retryable error, none hangs', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', ...HEARTBEAT]);
    const doomed = startWorker(broker.endpoint, 'work', [...HEARTBEAT, '--delay', '20']);
    await doomed.waitForEvent('ready');
    const survivor = startWorker(broker.endpoint, 'work', [...HEARTBEAT, '--delay', '20']);
    await survivor.waitForEvent('ready');
    await awaitWorkers(broker, 'work', 2);
    const retrying = startClient(broker.endpoint, 'work', ['--requests', '200', '--outstanding', '4', '--retries', '5', '--timeout', '10000']);
    const oneShot = startClient(broker.endpoint, 'work', ['--requests', '200', '--outstanding', '4', '--retries', '0', '--timeout', '10000']);
    await doomed.waitForEvent('replied', 15, 30_000);
    doomed.kill('SIGKILL');
    const [withRetries, withoutRetries] = await Promise.all([retrying.waitForEvent('done', 1, 60_000), oneShot.waitForEvent('done', 1, 60_000)]);
    expect(withRetries).toMatchObject({ ok: 200, timeouts: 0, unfinished: 0 });
    expect(withoutRetries).toMatchObject({ timeouts: 0, unfinished: 0 });
    const errors = withoutRetries['errors'] as Record<string, number>;
    expect(Object.keys(errors).filter((code) => code !== 'UNAVAILABLE')).toEqual([]);
    expect((withoutRetries['ok'] as number) + (errors['UNAVAILABLE'] ?? 0)).toBe(200);
    expect(await readMetric(broker.http!, 'correio_broker_worker_events_total', { service: 'work', event: 'expired' })).toBe(1);
    expect(await readMetric(broker.http!, 'correio_broker_workers', { service: 'work' })).toBe(1);
  });

  it('re-dispatches a killed worker’s request once when the service is declared idempotent', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', '--idempotent', 'safe,other', ...HEARTBEAT]);
    const doomed = startWorker(broker.endpoint, 'safe', [...HEARTBEAT, '--delay', '60000']);
    await doomed.waitForEvent('ready');
    await awaitWorkers(broker, 'safe', 1);
    const client = startClient(broker.endpoint, 'safe', ['--requests', '1', '--retries', '0', '--timeout', '20000']);
    await doomed.waitForEvent('request');
    const rescuer = startWorker(broker.endpoint, 'safe', HEARTBEAT);
    await rescuer.waitForEvent('ready');
    await awaitWorkers(broker, 'safe', 2);
    doomed.kill('SIGKILL');
    expect(await client.waitForEvent('done', 1, 20_000)).toMatchObject({ ok: 1, errors: {}, retries: 0 });
    expect(rescuer.events('replied')).toHaveLength(1);
    expect(await readMetric(broker.http!, 'correio_broker_redispatched_total', { service: 'safe' })).toBe(1);
  });

  it('a worker paused with SIGSTOP is evicted after liveness; its late reply is dropped and counted', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', ...HEARTBEAT]);
    // The worker itself tolerates a long silence, so that once resumed it answers the old request.
    const paused = startWorker(broker.endpoint, 'pause', ['--heartbeat', '250', '--liveness', '1000']);
    await paused.waitForEvent('ready');
    // Only once the broker holds the registration: READY may still sit in the worker's send queue.
    await awaitWorkers(broker, 'pause', 1);
    // The client is up and connected before the pause and sends on the go-ahead, so that its request
    // reaches the broker while the paused worker is still registered, however slowly the process started.
    const client = startClient(broker.endpoint, 'pause', ['--requests', '1', '--retries', '0', '--timeout', '20000', '--wait-for-go']);
    await client.waitForEvent('started');
    paused.kill('SIGSTOP');
    client.write('go');
    const summary = await client.waitForEvent('done', 1, 20_000);
    expect(summary).toMatchObject({ ok: 0, errors: { UNAVAILABLE: 1 }, stray: 0, unfinished: 0 });
    expect(await readMetric(broker.http!, 'correio_broker_worker_events_total', { service: 'pause', event: 'expired' })).toBe(1);
    paused.kill('SIGCONT');
    await paused.waitForEvent('replied', 1, 10_000);
    // The broker answers the stranger with DISCONNECT, and the worker registers afresh.
    await paused.waitForEvent('disconnected', 1, 10_000);
    await paused.waitForEvent('ready', 2, 10_000);
    for (let i = 0; i < 100 && (await readMetric(broker.http!, 'correio_broker_dropped_total', { reason: 'late-reply' })) < 1; i++) await sleep(50);
    expect(await readMetric(broker.http!, 'correio_broker_dropped_total', { reason: 'late-reply' })).toBe(1);
    expect(await readMetric(broker.http!, 'correio_broker_replies_total', { service: 'pause' })).toBe(0);
    expect(await readMetric(broker.http!, 'correio_broker_workers', { service: 'pause' })).toBe(1);
  });

  it('a broker restarted on the same port: workers re-register, retrying clients finish', async () => {
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    const first = await startBrokerProcess(['--endpoint', endpoint, '--http-port', '0', ...HEARTBEAT]);
    const workers = [startWorker(endpoint, 'echo', HEARTBEAT), startWorker(endpoint, 'echo', HEARTBEAT)];
    await Promise.all(workers.map((worker) => worker.waitForEvent('ready')));
    await awaitWorkers(first, 'echo', 2);
    const clients = [
      startClient(endpoint, 'echo', ['--requests', '300', '--outstanding', '2', '--timeout', '1000', '--retries', '30', '--retry-delay', '100']),
      startClient(endpoint, 'echo', ['--requests', '300', '--outstanding', '1', '--timeout', '1000', '--retries', '30', '--retry-delay', '100']),
    ];
    await workers[0]!.waitForEvent('replied', 20, 30_000);
    first.child.kill('SIGKILL');
    await first.child.exited;
    await sleep(300);
    await startBrokerProcess(['--endpoint', endpoint, ...HEARTBEAT]);
    const summaries = await Promise.all(clients.map((client) => client.waitForEvent('done', 1, 60_000)));
    for (const summary of summaries) expect(summary).toMatchObject({ ok: 300, unfinished: 0, mismatched: 0 });
    expect(summaries.some((summary) => (summary['retries'] as number) > 0)).toBe(true);
    // Each worker connected to the second broker (a second READY).
    for (const worker of workers) expect(worker.events('ready').length).toBeGreaterThanOrEqual(2);
  });

  it('SIGTERM: queued and in-flight requests get UNAVAILABLE, workers DISCONNECT, the process exits 0', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', '--shutdown-grace', '300', ...HEARTBEAT]);
    const worker = startWorker(broker.endpoint, 'stuck', [...HEARTBEAT, '--delay', '60000']);
    await worker.waitForEvent('ready');
    await awaitWorkers(broker, 'stuck', 1);
    const client = startClient(broker.endpoint, 'stuck', ['--requests', '3', '--outstanding', '3', '--retries', '0', '--timeout', '20000']);
    await worker.waitForEvent('request');
    await sleep(200);
    broker.child.kill('SIGTERM');
    expect(await broker.child.exited).toEqual({ code: 0, signal: null });
    expect(await client.waitForEvent('done', 1, 10_000)).toMatchObject({ ok: 0, errors: { UNAVAILABLE: 3 }, unfinished: 0 });
    await worker.waitForEvent('disconnected', 1, 5_000);
  });

  it('malformed, oversized and non-ZMTP traffic does not disturb other clients', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', '--max-message-size', '65536', ...HEARTBEAT]);
    const worker = startWorker(broker.endpoint, 'echo', HEARTBEAT);
    await worker.waitForEvent('ready');
    await awaitWorkers(broker, 'echo', 1);
    const client = startClient(broker.endpoint, 'echo', ['--requests', '400', '--outstanding', '4', '--retries', '0']);
    await client.waitForEvent('started');
    const rogue = new zmq.Dealer({ linger: 0 });
    rogue.connect(broker.endpoint);
    const port = Number(broker.endpoint.split(':').pop());
    try {
      for (let i = 0; i < 50; i++) {
        await rogue.send([Buffer.from([i, 0xff, 0x00])]);
        await rogue.send(['MDPC02', Buffer.from([7]), 'echo', 'x']);
        await rogue.send(['MDPC02', Buffer.from([1]), Buffer.from([0x01, 0x02]), 'x']);
        await rogue.send(['MDPW02', Buffer.from([4]), 'nobody', '', 'late']);
        await rogue.send(['MDPC02', Buffer.from([1]), 'echo']);
      }
      // Non-ZMTP bytes straight onto the TCP port.
      await new Promise<void>((resolve) => {
        const raw = connect(port, '127.0.0.1', () => {
          raw.write(Buffer.alloc(4096, 0xab));
          setTimeout(() => {
            raw.destroy();
            resolve();
          }, 100);
        });
        raw.on('error', () => resolve());
      });
      // A frame far past --max-message-size from another connection: that peer is cut off.
      const huge = new zmq.Dealer({ linger: 0 });
      huge.connect(broker.endpoint);
      await huge.send(['MDPC02', Buffer.from([1]), 'echo', Buffer.alloc(1_000_000, 1)]);
      await sleep(200);
      huge.close();
    } finally {
      rogue.close();
    }
    expect(await client.waitForEvent('done', 1, 60_000)).toMatchObject({ ok: 400, errors: {}, timeouts: 0, unfinished: 0 });
    expect(await readMetric(broker.http!, 'correio_broker_dropped_total', { reason: 'unknown-header' })).toBe(50);
    expect(await readMetric(broker.http!, 'correio_broker_dropped_total', { reason: 'malformed-client-command' })).toBe(150);
    expect(await readMetric(broker.http!, 'correio_broker_dropped_total', { reason: 'late-reply' })).toBe(50);
    expect(await readMetric(broker.http!, 'correio_broker_requests_total', { service: 'echo' })).toBe(400);
    expect(broker.child.alive).toBe(true);
  });
});
