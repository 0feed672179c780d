// A real broker and proxy in the test process, on free loopback ports, and the reference server
// as a child process (apps/ref/src/main.ts) that a test can kill -9 and restart on the same data.
// tearDownTest (in afterEach) kills the children, closes the infrastructure and removes the data.
import { join } from 'node:path';
import { killAll, scratchDir, spawnProgram, workspaceRoot, type Child, type ScratchDir } from '@correio/testing';
import { MajordomoBroker, PubSubProxy } from '@correio/transport';

export const refMain = join(workspaceRoot, 'apps', 'ref', 'src', 'main.ts');
/** A ServerNode as a process, printing what it sees as JSON events (fixtures/server-node.ts). */
export const nodeFixture = join(import.meta.dirname, '..', 'fixtures', 'server-node.ts');

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

const started: Infrastructure[] = [];
const dataDirs: ScratchDir[] = [];

/** A broker and a proxy for the current test, closed by tearDownTest. */
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
  const infra: Infrastructure = {
    broker: broker.endpoints[0]!,
    publish: proxy.frontend,
    subscribe: proxy.backend,
    close: async () => {
      await broker.close();
      await proxy.close();
    },
  };
  started.push(infra);
  return infra;
}

/** A data directory for the current test, removed by tearDownTest. */
export function tempDataDir(): string {
  const scratch = scratchDir('correio-ref-');
  dataDirs.push(scratch);
  return scratch.dir;
}

/**
 * The end of every test (afterEach, once the test's own clients and nodes are closed): child
 * processes killed, then the broker and proxy closed, then the data directories removed.
 */
export async function tearDownTest(): Promise<void> {
  await killAll();
  for (const infra of started.splice(0)) await infra.close();
  for (const scratch of dataDirs.splice(0)) scratch.remove();
}

export interface RefTiming {
  readonly heartbeatMs: number;
  readonly misses: number;
}

/** Starts the reference server as a child process and waits for its readiness line. */
export async function startRefProcess(infra: Infrastructure, dataDir: string, timing: RefTiming, extra: readonly string[] = []): Promise<Child> {
  const child = spawnProgram('ref', refMain, [
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
