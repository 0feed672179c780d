// A 3-node NATS JetStream cluster as child processes on 127.0.0.1 free ports (client port and
// route port each), file storage under the benchmark's data root, and one stream with 3 replicas:
// the system the end-to-end benchmark compares Correio's replicated write path with.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, StorageType, type JetStreamManager } from 'nats';
import { freePort, spawnPeer, stopGracefully } from '../processes.js';
import type { Process } from './topology.js';

export const STREAM = 'BENCH';
export const SUBJECT_PREFIX = 'bench';

export interface JetStreamCluster {
  /** Client URLs of the three servers. */
  readonly urls: readonly string[];
  readonly processes: readonly Process[];
  /** Messages the stream holds now. */
  storedMessages(): Promise<number>;
  /** SIGTERM to every server by PID, SIGKILL after a grace period. */
  stop(): Promise<void>;
}

export interface JetStreamClusterOptions {
  readonly binary: string;
  /** Parent of the servers' store directories (a real disk, like the Correio servers'). */
  readonly dataRoot: string;
  /** `sync_interval: always` (fsync each write) instead of JetStream's default (fsync every 2 minutes). */
  readonly syncAlways: boolean;
}

const NAMES = ['n1', 'n2', 'n3'];

function config(name: string, port: number, routePort: number, routePorts: readonly number[], storeDir: string, syncAlways: boolean): string {
  return [
    `server_name: ${name}`,
    `listen: "127.0.0.1:${port}"`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    ...(syncAlways ? ['  sync_interval: always'] : []),
    '}',
    'cluster {',
    '  name: bench',
    `  listen: "127.0.0.1:${routePort}"`,
    `  routes: [${routePorts.map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ')}]`,
    '}',
    '',
  ].join('\n');
}

async function withManager<T>(urls: readonly string[], body: (jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: [...urls] });
  try {
    return await body(await nc.jetstreamManager());
  } finally {
    await nc.close();
  }
}

export async function startJetStreamCluster({ binary, dataRoot, syncAlways }: JetStreamClusterOptions): Promise<JetStreamCluster> {
  const processes: Process[] = [];
  const stop = () => stopGracefully(processes.map(({ peer }) => peer));
  try {
    const ports = await Promise.all(NAMES.map(() => freePort()));
    const routePorts = await Promise.all(NAMES.map(() => freePort()));
    NAMES.forEach((name, i) => {
      const dir = join(dataRoot, name);
      mkdirSync(dir, { recursive: true });
      const file = join(dataRoot, `${name}.conf`);
      writeFileSync(file, config(name, ports[i]!, routePorts[i]!, routePorts, join(dir, 'jetstream'), syncAlways));
      processes.push({ name: `nats ${name}`, peer: spawnPeer(binary, ['-c', file]) });
    });
    await Promise.all(processes.map(({ peer }) => peer.line(/Server is ready/, 30_000)));
    const urls = ports.map((port) => `nats://127.0.0.1:${port}`);
    // The stream can be created once the servers have routed to each other and elected a meta leader.
    const started = performance.now();
    for (let attempt = 1; attempt <= 1_000; attempt++) {
      try {
        await withManager(urls, (jsm) => jsm.streams.add({ name: STREAM, subjects: [`${SUBJECT_PREFIX}.>`], num_replicas: 3, storage: StorageType.File }));
        break;
      } catch (error) {
        if (performance.now() - started > 60_000 || attempt === 1_000) throw new Error(`JetStream stream not created after ${attempt} attempts: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    return {
      urls,
      processes,
      storedMessages: () => withManager(urls, async (jsm) => (await jsm.streams.info(STREAM)).state.messages),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
