// A real broker and proxy in the test process, on free loopback ports, and the reference server
// as a child process (apps/ref/src/main.ts) that a test can kill -9 and restart on the same data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';
import { refMain, spawnTs, type Child } from './children.js';

/** MDP heartbeating between the broker and its workers in these tests: a dead worker is dropped after 750 ms. */
export const BROKER_HEARTBEAT_MS = 250;
export const BROKER_LIVENESS = 3;

export interface Infrastructure {
  readonly broker: string;
  /** The proxy's XSUB side: publishers connect here. */
  readonly publish: string;
  /** The proxy's XPUB side: subscribers connect here. */
  readonly subscribe: string;
  close(): Promise<void>;
}

export async function startInfrastructure(): Promise<Infrastructure> {
  const broker = new MajordomoBroker({ endpoints: ['tcp://127.0.0.1:*'], heartbeatIntervalMs: BROKER_HEARTBEAT_MS, liveness: BROKER_LIVENESS, startupGraceMs: 10_000 });
  await broker.start();
  const proxy = new PubSubProxy({ frontend: 'tcp://127.0.0.1:*', backend: 'tcp://127.0.0.1:*' });
  try {
    await proxy.start();
  } catch (error) {
    await broker.close();
    throw error;
  }
  return {
    broker: broker.endpoints[0]!,
    publish: proxy.frontend,
    subscribe: proxy.backend,
    close: async () => {
      await broker.close();
      await proxy.close();
    },
  };
}

const dataDirs: string[] = [];

export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'correio-ref-'));
  dataDirs.push(dir);
  return dir;
}

export function removeDataDirs(): void {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface RefTiming {
  readonly heartbeatMs: number;
  readonly misses: number;
}

/** Starts the reference server as a child process and waits for its readiness line. */
export async function startRefProcess(infra: Infrastructure, dataDir: string, timing: RefTiming, extra: readonly string[] = []): Promise<Child> {
  const child = spawnTs('ref', refMain, [
    '--broker', infra.broker,
    '--proxy-pub', infra.publish,
    '--proxy-sub', infra.subscribe,
    '--data-dir', dataDir,
    '--heartbeat', String(timing.heartbeatMs),
    '--misses', String(timing.misses),
    '--broker-heartbeat', String(BROKER_HEARTBEAT_MS),
    '--broker-liveness', String(BROKER_LIVENESS),
    ...extra,
  ]);
  await child.waitForLine(/^ref ready /);
  return child;
}
