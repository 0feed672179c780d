import { DEFAULT_CONTEXT_MAX_SOCKETS, openSocket, Worker, type ManagedSocket } from '@correio/transport';
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { echoResult } from './helpers/messages.js';
import { waitFor, within } from './helpers/wait.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

async function rawBroker(): Promise<zmq.Router> {
  const router = new zmq.Router({ linger: 0 });
  cleanup.push(() => router.close());
  await router.bind('tcp://127.0.0.1:*');
  return router;
}

/** Distinct worker identities that sent READY to `router`, until `count` of them did. */
async function readyWorkers(router: zmq.Router, count: number): Promise<Set<string>> {
  const identities = new Set<string>();
  while (identities.size < count) {
    const [identity, , command] = await within(router.receive(), 5000, `READY from ${count} worker connections`);
    if (command?.[0] === 0x01) identities.add(identity!.toString('hex'));
  }
  return identities;
}

describe('ZeroMQ socket limits', () => {
  it('the default context holds more sockets than libzmq allows by default (each managed socket is three)', async () => {
    expect(zmq.context.maxSockets).toBe(DEFAULT_CONTEXT_MAX_SOCKETS);
    // 400 managed sockets are 1,200 ZeroMQ sockets: past libzmq's default of 1,023.
    const sockets: ManagedSocket[] = [];
    cleanup.push(() => Promise.all(sockets.map((socket) => socket.close())));
    for (let i = 0; i < 400; i += 1) sockets.push(openSocket('dealer', { linger: 0 }));
    expect(sockets.every((socket) => !socket.closed)).toBe(true);
  });

  it('a worker connection ZeroMQ cannot open is counted and retried, and the worker keeps serving', async () => {
    const router = await rawBroker();
    // Room for two managed sockets: a blocker and the worker's first connection.
    const context = new zmq.Context({ maxSockets: 6 });
    const blocker = openSocket('dealer', { linger: 0, context });
    const worker = new Worker({ framing: 'classic', endpoint: router.lastEndpoint!, service: 'echo', handler: echoResult, concurrency: 2, heartbeatInterval: 100, liveness: 1000, linger: 0, context });
    const reasons: string[] = [];
    worker.events.on('reconnecting', ({ reason }) => reasons.push(reason));
    worker.start();
    cleanup.push(() => worker.stop({ drainTimeout: 0 }));
    const [first] = await readyWorkers(router, 1);
    await waitFor(() => worker.stats.openFailures >= 1, 'the second connection failing to open', 5000);
    expect(reasons[0]).toMatch(/could not be opened: the process is at its socket or file limit/);
    await blocker.close();
    // Once the blocker's sockets are gone, the failed connection opens on its next try.
    const [second] = await readyWorkers(router, 1);
    expect(second).not.toBe(first);
    expect(worker.stats.openFailures).toBeGreaterThanOrEqual(1);
  });
});
