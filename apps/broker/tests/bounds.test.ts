// The broker process under a peer that registers ever new services and leaves, and more workers
// than it admits: its tracked state stays within the configured bounds (read from /metrics), the
// refusals are counted, and honest workers and clients are served throughout.
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { killAll, readMetric, waitFor } from '@correio/testing';
import { awaitWorkers, startBrokerProcess, startClient, startWorker } from './helpers/children.js';

const HEARTBEAT = ['--heartbeat', '250', '--liveness', '8'];
const sockets: zmq.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await killAll();
});

function rawWorker(endpoint: string): zmq.Dealer {
  const socket = new zmq.Dealer({ linger: 0, receiveTimeout: 5_000, sendTimeout: 5_000 });
  socket.connect(endpoint);
  sockets.push(socket);
  return socket;
}

const READY = Buffer.of(0x01);
const DISCONNECT = Buffer.of(0x06);

describe('broker bounds', () => {
  it('READY with new names then DISCONNECT, 2000 times: --max-services holds, CORREIO_BROKER_MAX_WORKERS refuses, honest peers are served', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', '--max-services', '10', ...HEARTBEAT], {
      CORREIO_BROKER_MAX_WORKERS: '4',
    });
    const http = broker.http!;
    const honest = startWorker(broker.endpoint, 'honest', HEARTBEAT);
    await honest.waitForEvent('ready');
    await awaitWorkers(broker, 'honest', 1);

    const churn = rawWorker(broker.endpoint);
    const rounds = 2_000;
    for (let round = 0; round < rounds; round++) {
      await churn.send(['MDPW02', READY, `churn-${round}`]);
      await churn.send(['MDPW02', DISCONNECT]);
    }
    await waitFor(async () => (await readMetric(http, 'correio_broker_worker_events_total', { event: 'disconnected' })) === rounds, `${rounds} churned workers to leave`, 30_000);
    expect(await readMetric(http, 'correio_broker_services_tracked')).toBe(10);
    expect(await readMetric(http, 'correio_broker_services_forgotten_total', { reason: 'evicted' })).toBe(rounds + 1 - 10);

    // Three more workers fill --max-workers (4, from the environment); the fifth is told to go.
    const pool = [rawWorker(broker.endpoint), rawWorker(broker.endpoint), rawWorker(broker.endpoint)];
    for (const socket of pool) await socket.send(['MDPW02', READY, 'pool']);
    await waitFor(async () => (await readMetric(http, 'correio_broker_worker_connections')) === 4, 'four registered workers');
    const extra = rawWorker(broker.endpoint);
    await extra.send(['MDPW02', READY, 'pool']);
    const [, command] = await extra.receive();
    expect(command).toEqual(DISCONNECT);
    expect(await readMetric(http, 'correio_broker_limit_refusals_total', { limit: 'workers' })).toBe(1);
    expect(await readMetric(http, 'correio_broker_worker_connections')).toBe(4);

    const client = startClient(broker.endpoint, 'honest', ['--requests', '20', '--outstanding', '2', '--retries', '0']);
    expect(await client.waitForEvent('done', 1, 20_000)).toMatchObject({ ok: 20, timeouts: 0, unfinished: 0 });
    expect(broker.child.alive).toBe(true);
  });
});
