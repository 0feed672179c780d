// Seed-compatible mode: unmodified pyzmq REQ clients and REP servers through the broker's plain queue.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, sleep } from '@correio/testing';
import { awaitWorkers, fixtures, pythonPeersAvailable, spawnPython, startBrokerProcess, startClient, startWorker } from './helpers/children.js';

afterEach(killAll);

// CI installs the Python peers (tools/scripts/setup-peers.sh); a developer without them is told so.
const available = pythonPeersAvailable();
if (!available && process.env['CI']) throw new Error('the Python peers (.venv with pyzmq and msgpack) are missing; run tools/scripts/setup-peers.sh');

describe.skipIf(!available)('seed-compatible REQ/REP queue with pyzmq peers', () => {
  it('carries requests from Python REQ clients to Python REP servers and back, alongside MDP traffic', async () => {
    const broker = await startBrokerProcess([
      '--endpoint', 'tcp://127.0.0.1:*',
      '--seed-frontend', 'tcp://127.0.0.1:*',
      '--seed-backend', 'tcp://127.0.0.1:*',
      '--heartbeat', '250',
      '--http-port', '0',
    ]);
    expect(broker.seedFrontend).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const servers = ['py-server-1', 'py-server-2'].map((name) =>
      spawnPython(name, join(fixtures, 'seed_rep_server.py'), [broker.seedBackend!, name]),
    );
    await Promise.all(servers.map((server) => server.waitForEvent('ready')));
    const mdpWorker = startWorker(broker.endpoint, 'echo', ['--heartbeat', '250']);
    await mdpWorker.waitForEvent('ready');
    await awaitWorkers(broker, 'echo', 1);
    const pyClients = [0, 1, 2].map((i) => spawnPython(`py-client-${i}`, join(fixtures, 'seed_req_client.py'), [broker.seedFrontend!, '100', '5000', '3']));
    const mdpClient = startClient(broker.endpoint, 'echo', ['--requests', '200', '--outstanding', '4']);
    const summaries = await Promise.all(pyClients.map((client) => client.waitForEvent('done', 1, 60_000)));
    for (const summary of summaries) expect(summary).toMatchObject({ ok: 100, failed: 0 });
    // The queue spreads requests over both REP servers.
    const perServer = () => servers.map((server) => server.events('replied').length);
    for (let i = 0; i < 100 && perServer().reduce((a, b) => a + b) < 300; i++) await sleep(50);
    expect(perServer().reduce((a, b) => a + b)).toBe(300);
    for (const count of perServer()) expect(count).toBeGreaterThan(0);
    expect(await mdpClient.waitForEvent('done', 1, 60_000)).toMatchObject({ ok: 200, errors: {}, unfinished: 0 });
  });

  it('a lazy-pirate Python client survives a REP server that hangs and then dies mid-stream', async () => {
    const broker = await startBrokerProcess(['--seed-frontend', 'tcp://127.0.0.1:*', '--seed-backend', 'tcp://127.0.0.1:*', '--endpoint', 'tcp://127.0.0.1:*']);
    const doomed = spawnPython('py-doomed', join(fixtures, 'seed_rep_server.py'), [broker.seedBackend!, 'doomed', '10']);
    const steady = spawnPython('py-steady', join(fixtures, 'seed_rep_server.py'), [broker.seedBackend!, 'steady']);
    await Promise.all([doomed.waitForEvent('ready'), steady.waitForEvent('ready')]);
    const client = spawnPython('py-client', join(fixtures, 'seed_req_client.py'), [broker.seedFrontend!, '200', '1000', '5']);
    await doomed.waitForEvent('stalled', 1, 30_000);
    doomed.kill('SIGKILL');
    const summary = await client.waitForEvent('done', 1, 60_000);
    expect(summary).toMatchObject({ ok: 200, failed: 0 });
    expect(summary['retries']).toBeGreaterThanOrEqual(1);
  });
});
