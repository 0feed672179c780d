// The broker process under a peer that registers 600 service names and leaves: the names the
// broker forgets give their metric labels back (their counts move to `other`, so totals stay
// right), so a service that starts afterwards is counted under its own name, and /metrics holds
// series only for the names the broker still holds.
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { killAll, readMetric, waitFor } from '@correio/testing';
import { awaitWorkers, startBrokerProcess } from './helpers/children.js';

const sockets: zmq.Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.close();
  await killAll();
});

function rawWorker(endpoint: string): zmq.Dealer {
  const socket = new zmq.Dealer({ linger: 0, sendTimeout: 5_000 });
  socket.connect(endpoint);
  sockets.push(socket);
  return socket;
}

const READY = Buffer.of(0x01);
const DISCONNECT = Buffer.of(0x06);

describe('broker metric labels', () => {
  it('frees the label of every service it forgets: after 600 churned names a new service is still labelled by name', async () => {
    const broker = await startBrokerProcess(['--endpoint', 'tcp://127.0.0.1:*', '--http-port', '0', '--max-services', '10']);
    const http = broker.http!;
    const churn = rawWorker(broker.endpoint);
    const rounds = 600; // well past the 256 labels
    for (let round = 0; round < rounds; round++) {
      await churn.send(['MDPW02', READY, `churn-${round}`]);
      await churn.send(['MDPW02', DISCONNECT]);
    }
    await waitFor(async () => (await readMetric(http, 'correio_broker_worker_events_total', { event: 'disconnected' })) === rounds, `${rounds} churned workers to leave`, 30_000);
    expect(await readMetric(http, 'correio_broker_services_forgotten_total', { reason: 'evicted' })).toBe(rounds - 10);

    const late = rawWorker(broker.endpoint);
    await late.send(['MDPW02', READY, 'late']);
    await awaitWorkers(broker, 'late', 1);
    expect(await readMetric(http, 'correio_broker_workers', { service: 'other' })).toBe(0);
    expect(await readMetric(http, 'correio_broker_worker_events_total', { service: 'late', event: 'ready' })).toBe(1);
    // The forgotten names' counts are in `other`: the totals still add up.
    expect(await readMetric(http, 'correio_broker_worker_events_total', { event: 'ready' })).toBe(rounds + 1);
    // ("late" took the place of one more churned service.)
    expect(await readMetric(http, 'correio_broker_worker_events_total', { service: 'other', event: 'ready' })).toBe(rounds - 9);

    const text = await (await fetch(`${http}/metrics`)).text();
    const churnedSeries = new Set([...text.matchAll(/service="(churn-\d+)"/g)].map((match) => match[1]));
    // Only the services the broker still holds (at most --max-services) keep series.
    expect(churnedSeries.size).toBeGreaterThan(0);
    expect(churnedSeries.size).toBeLessThanOrEqual(9);
    expect(broker.child.alive).toBe(true);
  });
});
