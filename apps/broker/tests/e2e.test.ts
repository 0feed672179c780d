// The broker as a real process, with clients and workers in their own processes, over TCP.
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { killAll, readMetric, sleep, waitFor, type Child } from '@correio/testing';
import { awaitWorkers, startBrokerProcess, startClient, startWorker } from './helpers/children.js';

const HEARTBEAT = ['--heartbeat', '250', '--liveness', '3'];

afterEach(killAll);

async function allReady(workers: Child[]): Promise<void> {
  await Promise.all(workers.map((worker) => worker.waitForEvent('ready')));
}

describe('broker process', () => {
  it('serves several clients of two services through several workers, load-balanced', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', ...HEARTBEAT]);
    const echo = [startWorker(broker.endpoint, 'echo', HEARTBEAT), startWorker(broker.endpoint, 'echo', HEARTBEAT)];
    const slow = [startWorker(broker.endpoint, 'slow', [...HEARTBEAT, '--delay', '2']), startWorker(broker.endpoint, 'slow', [...HEARTBEAT, '--delay', '2', '--partials', '1'])];
    await allReady([...echo, ...slow]);
    await awaitWorkers(broker, 'echo', 2);
    await awaitWorkers(broker, 'slow', 2);
    const clients = [
      startClient(broker.endpoint, 'echo', ['--requests', '300', '--outstanding', '8']),
      startClient(broker.endpoint, 'echo', ['--requests', '300', '--outstanding', '1']),
      startClient(broker.endpoint, 'slow', ['--requests', '100', '--outstanding', '4']),
    ];
    const summaries = await Promise.all(clients.map((client) => client.waitForEvent('done', 1, 60_000)));
    expect(summaries.map((summary) => summary['ok'])).toEqual([300, 300, 100]);
    for (const summary of summaries) expect(summary).toMatchObject({ errors: {}, timeouts: 0, stray: 0, mismatched: 0, unfinished: 0 });
    // Requests of one service went to both of its workers.
    const served = (workers: Child[]) => workers.map((worker) => worker.events('replied').length);
    const total = (workers: Child[]) => served(workers).reduce((a, b) => a + b);
    // A worker prints `replied` once its reply is sent: the client can hold every reply before the
    // worker's last line has come through its pipe to us.
    await waitFor(() => (total(echo) >= 600 && total(slow) >= 100) || undefined, 'every worker to report its replies', 10_000);
    expect(total(echo)).toBe(600);
    for (const count of served(echo)) expect(count).toBeGreaterThan(50);
    expect(total(slow)).toBe(100);
    expect(summaries[2]!['partials']).toBeGreaterThan(0);
    expect(await readMetric(broker.http!, 'correio_broker_requests_total', { service: 'echo' })).toBe(600);
    expect(await readMetric(broker.http!, 'correio_broker_replies_total', { service: 'slow', kind: 'final' })).toBe(100);
    expect(await readMetric(broker.http!, 'correio_broker_workers', { service: 'echo' })).toBe(2);
    expect(await readMetric(broker.http!, 'correio_broker_request_duration_seconds_count', { service: 'echo' })).toBe(600);
    const health = await fetch(`${broker.http!}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ready: true, workers: 4 });
  });

  it('answers MMI queries about live services', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', ...HEARTBEAT]);
    const worker = startWorker(broker.endpoint, 'present', HEARTBEAT);
    await worker.waitForEvent('ready');
    await awaitWorkers(broker, 'present', 1);
    const client = new zmq.Dealer({ linger: 0, receiveTimeout: 5_000 });
    client.connect(broker.endpoint);
    try {
      const ask = async (name: string) => {
        await client.send(['MDPC02', Buffer.from([1]), 'mmi.service', name]);
        return (await client.receive()).map(String)[3];
      };
      expect(await ask('present')).toBe('200');
      expect(await ask('absent')).toBe('404');
      worker.kill('SIGKILL');
      await sleep(1_200); // past liveness: the broker forgets the worker
      expect(await ask('present')).toBe('404');
    } finally {
      client.close();
    }
  });

  it('queues requests until a worker arrives, and refuses with OVERLOADED past the queue limit', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--max-queue', '5', '--deadline', '20s', '--startup-grace', '30s', ...HEARTBEAT]);
    const client = startClient(broker.endpoint, 'late', ['--requests', '8', '--outstanding', '8', '--retries', '0', '--timeout', '30000']);
    await client.waitForEvent('started');
    await sleep(1_000);
    const worker = startWorker(broker.endpoint, 'late', HEARTBEAT);
    const summary = await client.waitForEvent('done', 1, 30_000);
    expect(summary).toMatchObject({ ok: 5, errors: { OVERLOADED: 3 }, unfinished: 0 });
    expect(worker.events('replied')).toHaveLength(5);
  });
});
