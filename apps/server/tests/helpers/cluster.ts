// A cluster for the end-to-end tests: the reference server (apps/ref) as a child process next to the
// broker and proxy of ./processes.ts, servers that join it with short heartbeats, and readers of
// their /health. Every process is killed by killAll().
import { join } from 'node:path';
import { RequestClient } from '@correio/transport';
import { spawnTs, startServerProcess, TEST_HEARTBEAT_MS, workspaceRoot, type Child, type Infrastructure, type ServerProcess } from './processes.js';

const refMain = join(workspaceRoot, 'apps', 'ref', 'src', 'main.ts');

/**
 * Cluster timing of the tests: heartbeats to the reference server every 200 ms, down after 3
 * misses, election timeout 300 ms. The lease is 600 ms, and a dead coordinator is replaced within
 * heartbeat × misses + heartbeat / 4 + election timeout = 950 ms (the discovery library's bound).
 */
export const CLUSTER_TIMING = { refHeartbeatMs: 200, refMisses: 3, electionTimeoutMs: 300 } as const;
export const ELECTION_BOUND_MS = CLUSTER_TIMING.refHeartbeatMs * CLUSTER_TIMING.refMisses + CLUSTER_TIMING.refHeartbeatMs / 4 + CLUSTER_TIMING.electionTimeoutMs;

/** apps/ref as a child process on `dataDir`; resolves once the broker lists its service `ref`. */
export async function startRefProcess(infra: Infrastructure, dataDir: string): Promise<Child> {
  const child = spawnTs('ref', refMain, [
    '--broker', infra.broker,
    '--proxy-pub', infra.proxy.pub,
    '--proxy-sub', infra.proxy.sub,
    '--data-dir', dataDir,
    '--heartbeat', String(CLUSTER_TIMING.refHeartbeatMs),
    '--misses', String(CLUSTER_TIMING.refMisses),
    '--broker-heartbeat', String(TEST_HEARTBEAT_MS),
  ]);
  await child.waitForLine(/^ref ready /, 60_000);
  // Its readiness line does not wait for the broker to register the worker: ask the broker (MMI).
  const client = new RequestClient({ endpoint: infra.broker, from: 'ref-probe' });
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

/** What the tests read of a server's /health: the cluster and clock sections. */
export interface ClusterHealthView {
  readonly id: string;
  readonly lc: number;
  readonly cluster: {
    readonly ref: string | null;
    readonly refAvailable: boolean | null;
    readonly rank: number | null;
    readonly role: string;
    readonly isCoordinator: boolean;
    readonly coordinator: { readonly server: string; readonly rank: number; readonly term: number } | null;
    readonly term: number;
    readonly servers: readonly { readonly server: string; readonly rank: number; readonly alive: boolean }[];
    readonly peers: readonly string[];
  };
  readonly clock: {
    readonly now: number;
    readonly corrected: number;
    readonly offsetMs: number;
    readonly pendingMs: number;
    readonly injected: { readonly skewMs: number; readonly driftPpm: number };
    readonly lastAdjustment?: { readonly round: number; readonly adjustMs: number; readonly applied: boolean; readonly from: string; readonly at: number };
    readonly rounds: { readonly completed: number; readonly abandoned: number; readonly byReason: Readonly<Record<string, number>> };
    readonly adjustments: { readonly applied: number; readonly refused: number };
    readonly roundInProgress?: { readonly round: number; readonly reason: string; readonly startedAt: number; readonly awaiting: readonly string[] };
    readonly lastRound?: {
      readonly round: number;
      readonly reason: string;
      readonly outcome: string;
      readonly averageOffsetMs: number;
      readonly clocks: readonly { readonly participant: string; readonly status: string; readonly offsetMs?: number; readonly rttMs?: number; readonly adjustMs?: number; readonly applied?: boolean }[];
    };
  };
}

export async function clusterHealth(server: ServerProcess): Promise<ClusterHealthView> {
  const response = await fetch(`${server.http}/health`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as ClusterHealthView;
}

/** A reading of a server's clocks against this process's clock, with the uncertainty of the HTTP round trip. */
export interface ClockReading {
  readonly health: ClusterHealthView;
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

/** Polls `probe` every `everyMs` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined && found !== false) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
