// A cluster for the end-to-end tests: the reference server (apps/ref) as a child process next to the
// broker and proxy of ./processes.ts, servers that join it with short heartbeats, and readers of
// their /health. Every process is killed by killAll().
import { join } from 'node:path';
import { createKeySetIfMissing } from '@correio/identity';
import type { ServerHealth } from '@correio/server';
import { waitFor, workspaceRoot, type Child } from '@correio/testing';
import { RequestClient, type CurveClientOptions } from '@correio/transport';
import type { AuthClient } from './auth.js';
import { eventually } from './chat.js';
import { spawnTs, startInfrastructure, startServerProcess, TEST_HEARTBEAT_MS, type Infrastructure, type ServerProcess } from './processes.js';

const refMain = join(workspaceRoot, 'apps', 'ref', 'src', 'main.ts');

/**
 * Cluster timing of the tests: heartbeats to the reference server every 200 ms, down after 3
 * misses, election timeout 300 ms. The lease is 600 ms, and a dead coordinator is replaced within
 * heartbeat × misses + heartbeat / 4 + election timeout = 950 ms (the discovery library's bound).
 */
export const CLUSTER_TIMING = { refHeartbeatMs: 200, refMisses: 3, electionTimeoutMs: 300 } as const;
export const ELECTION_BOUND_MS = CLUSTER_TIMING.refHeartbeatMs * CLUSTER_TIMING.refMisses + CLUSTER_TIMING.refHeartbeatMs / 4 + CLUSTER_TIMING.electionTimeoutMs;

/** apps/ref as a child process on `dataDir`; resolves once the broker lists its service `ref`. */
export async function startRefProcess(infra: Infrastructure, dataDir: string, extra: readonly string[] = [], probe: { readonly curve?: CurveClientOptions } = {}): Promise<Child> {
  const child = spawnTs('ref', refMain, [
    '--broker', infra.broker,
    '--proxy-pub', infra.proxy.pub,
    '--proxy-sub', infra.proxy.sub,
    '--data-dir', dataDir,
    '--heartbeat', String(CLUSTER_TIMING.refHeartbeatMs),
    '--misses', String(CLUSTER_TIMING.refMisses),
    '--broker-heartbeat', String(TEST_HEARTBEAT_MS),
    ...extra,
  ]);
  await child.waitForLine(/^ref ready /, 60_000);
  // Its readiness line does not wait for the broker to register the worker: ask the broker (MMI).
  const client = new RequestClient({ endpoint: infra.broker, from: 'ref-probe', ...probe });
  try {
    await waitFor(async () => Buffer.from((await client.requestRaw('mmi.service', ['ref'], { timeout: 2_000 }))[0]!).toString() === '200', 'the broker to list ref', 10_000);
  } finally {
    await client.close();
  }
  return child;
}

/** A chat server process that joins the cluster through the reference server, with the test timing. */
export function startClusterServer(infra: Infrastructure, id: string, dataDir: string, extra: readonly string[] = []): Promise<ServerProcess> {
  return startServerProcess(infra, id, dataDir, [
    '--ref', 'ref',
    '--ref-heartbeat', String(CLUSTER_TIMING.refHeartbeatMs),
    '--ref-misses', String(CLUSTER_TIMING.refMisses),
    '--election-timeout', String(CLUSTER_TIMING.electionTimeoutMs),
    ...extra,
  ]);
}

/** A server's /health, as the server types it. */
export async function clusterHealth(server: ServerProcess): Promise<ServerHealth> {
  const response = await fetch(`${server.http}/health`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as ServerHealth;
}

/** A reading of a server's clocks against this process's clock, with the uncertainty of the HTTP round trip. */
export interface ClockReading {
  readonly health: ServerHealth;
  /** Its synchronised (corrected) clock minus ours, ms, at the midpoint of the request. */
  readonly correctedOffsetMs: number;
  /** Its slewed clock (what stamps messages) minus ours. */
  readonly nowOffsetMs: number;
  /** Half the round trip: how far off either offset may be. */
  readonly uncertaintyMs: number;
}

export async function readClock(server: ServerProcess): Promise<ClockReading> {
  const sent = Date.now();
  const health = await clusterHealth(server);
  const received = Date.now();
  const midpoint = (sent + received) / 2;
  return { health, correctedOffsetMs: health.clock.corrected - midpoint, nowOffsetMs: health.clock.now - midpoint, uncertaintyMs: (received - sent) / 2 };
}

/** A cluster in password mode whose servers share one key set and make `ana` an operator. */
export interface OperatorCluster {
  readonly infra: Infrastructure;
  /** Starts (or restarts) the server `id` on `<dir>/<id>` with the cluster's flags. */
  start(id: string): Promise<ServerProcess>;
  readonly servers: ServerProcess[];
}

/**
 * Broker, proxy, reference server and the servers `ids` in password mode (one key set, `ana` on
 * --operators, `extra` flags for each), started from `dir`. `refMisses`: heartbeats a server may
 * miss before the reference server marks it down (CLUSTER_TIMING's 3 by default, 600 ms).
 */
export async function startOperatorCluster(dir: string, ids: readonly string[], extra: readonly string[] = [], options: { readonly refMisses?: number } = {}): Promise<OperatorCluster> {
  const infra = await startInfrastructure();
  const keysFile = join(dir, 'auth-keys.json');
  await createKeySetIfMissing(keysFile);
  await startRefProcess(infra, join(dir, 'ref'), options.refMisses === undefined ? [] : ['--misses', String(options.refMisses)]);
  const start = (id: string) => startClusterServer(infra, id, join(dir, id), ['--auth', 'password', '--auth-keys', keysFile, '--operators', 'ana', ...extra]);
  return { infra, start, servers: await Promise.all(ids.map(start)) };
}

/**
 * Registers ana (an operator) and bia (not one) through the first server, and waits until every
 * server verifies their tokens (registrations replicate asynchronously): their access tokens.
 */
export async function signUpAnaAndBia(client: AuthClient, ids: readonly string[], password: string): Promise<{ ana: string; bia: string }> {
  const ana = (await client.signUp(`srv.${ids[0]}`, 'ana', password)).token!;
  const bia = (await client.signUp(`srv.${ids[0]}`, 'bia', password)).token!;
  await eventually(async () => (await Promise.all(ids.map((id) => client.refusal(`srv.${id}`, 'chat.whoami.request', {}, bia)))).every((error) => error === undefined), 15_000, 'the users replicated');
  return { ana, bia };
}
