import { afterEach, describe, expect, it } from 'vitest';
import { ServerNode } from '@correio/discovery';
import type { ClockPollReply, RefServersReply } from '@correio/protocol';
import { RequestClient } from '@correio/transport';
import { sleep, waitFor } from '@correio/testing';
import { BROKER_HEARTBEAT_MS, startInfrastructure, startRefProcess, tearDownTest, tempDataDir, type Infrastructure } from './support/infrastructure.js';

const TIMING = { heartbeatMs: 250, misses: 4 };
const LEASE_MS = TIMING.heartbeatMs * TIMING.misses;

let infra: Infrastructure | undefined;
const nodes: ServerNode[] = [];
let client: RequestClient | undefined;

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((node) => node.stop()));
  await client?.close();
  client = undefined;
  await tearDownTest();
});

function startNode(server: string): ServerNode {
  const node = new ServerNode({
    server,
    broker: infra!.broker,
    publishEndpoint: infra!.publish,
    subscribeEndpoint: infra!.subscribe,
    heartbeatIntervalMs: TIMING.heartbeatMs,
    refMisses: TIMING.misses,
    electionTimeoutMs: 500,
    refreshIntervalMs: 1000,
    workerHeartbeatIntervalMs: BROKER_HEARTBEAT_MS,
  });
  node.handle('clock.poll.request', (request) => ({ round: (request.body as { round: number }).round, time: Date.now() }));
  nodes.push(node);
  return node;
}

const view = (node: ServerNode) => node.servers.map((s) => `${s.server}:${s.rank}:${s.alive ? 'up' : 'down'}`).join(' ');

describe('while the reference server is down (child process killed with SIGKILL)', () => {
  it('servers keep serving from their cached list, and find their ranks unchanged when it returns', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    let ref = await startRefProcess(infra, dataDir, TIMING);
    // Ranks follow the order of first contact.
    const ranks: Record<string, number> = {};
    for (const server of ['a', 'b', 'c']) ranks[server] = await startNode(server).start();
    expect(ranks).toEqual({ a: 1, b: 2, c: 3 });
    const [a, b, c] = nodes as [ServerNode, ServerNode, ServerNode];
    const full = 'a:1:up b:2:up c:3:up';
    await waitFor(() => nodes.every((node) => view(node) === full), 'every node to list all three');
    await waitFor(() => c.isCoordinator && a.coordinator?.server === 'c' && b.coordinator?.server === 'c', 'c to coordinate');

    const reRegistrations: string[] = [];
    for (const node of nodes) node.events.on('registered', () => reRegistrations.push(node.server));
    ref.kill('SIGKILL');
    await ref.exited;
    await waitFor(() => nodes.every((node) => node.refAvailable === false), 'the nodes to notice the outage');
    // The cache stays as it was: nobody is presumed dead because the reference server is.
    await sleep(LEASE_MS + 500);
    for (const node of nodes) expect(view(node)).toBe(full);
    // Serving goes on: a server is reached through the broker as before.
    client = new RequestClient({ endpoint: infra.broker, from: 'outage-test', timeout: 2000, retries: 3, backoff: { initialMs: 20, maxMs: 100 } });
    const poll = await client.request('srv.b', 'clock.poll.request', { round: 7 });
    expect((poll.body as ClockPollReply).round).toBe(7);
    // No coordinator acts without a lease: nobody can tell who is alive.
    for (const node of nodes) expect(node.isCoordinator).toBe(false);

    ref = await startRefProcess(infra, dataDir, TIMING);
    await waitFor(() => nodes.every((node) => node.refAvailable === true), 'the nodes to reach it again');
    expect(nodes.map((node) => node.rank)).toEqual([1, 2, 3]);
    expect(reRegistrations).toEqual([]); // their heartbeats were recognised: the ranks survived on disk
    const listed = (await client.request('ref', 'ref.servers.request', {})).body as RefServersReply;
    expect(listed.servers.map((s) => [s.server, s.rank, s.alive])).toEqual([
      ['a', 1, true],
      ['b', 2, true],
      ['c', 3, true],
    ]);
    // With leases back, the highest-ranked server coordinates again.
    await waitFor(() => c.isCoordinator && !a.isCoordinator && !b.isCoordinator, 'c to coordinate again');
    for (const node of nodes) expect(view(node)).toBe(full);
  });
});
