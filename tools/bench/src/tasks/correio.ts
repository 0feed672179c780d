// Correio's task queue as the benchmark runs it: broker, proxy, ref and 3 chat servers as child
// processes (e2e/topology.ts: each from its app's main.ts, LMDB synced on every commit, password
// auth), the servers' defaults for the queue (--task-replicas 2: a job change is acknowledged once
// the coordinator and one more server hold it durably), ready once every server sees the others
// live and one coordinates; then a producer and a worker process (correioChild.ts).
import { join } from 'node:path';
import { TaskClient } from '@correio/tasks';
import { prepareBenchUser } from '../e2e/setup.js';
import { startTopology, type Topology } from '../e2e/topology.js';
import { scratchUnder, tsxArgs } from '../processes.js';
import { spawnChild, type Child } from './child.js';
import { childrenReady, type PeerDefinition, type RunningPeer } from './peer.js';

const SERVERS = ['s1', 's2', 's3'];
const QUEUE = 'bench';
const CHILD = join(import.meta.dirname, 'correioChild.ts');
const CLUSTER_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

interface ServerHealth {
  readonly cluster?: { readonly peers?: readonly unknown[] };
  readonly tasks?: { readonly coordinating?: boolean };
}

async function health(url: string): Promise<ServerHealth | undefined> {
  try {
    return (await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json()) as ServerHealth;
  } catch {
    return undefined;
  }
}

/** Resolves once every server sees every other live (so each change is copied to a peer) and one serves `tasks`. */
async function untilClustered(topology: Topology): Promise<void> {
  const deadline = Date.now() + CLUSTER_TIMEOUT_MS;
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    const all = await Promise.all([...topology.health.values()].map(health));
    const peered = all.every((server) => server?.cluster?.peers?.length === SERVERS.length - 1);
    if (peered && all.some((server) => server?.tasks?.coordinating === true)) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  throw new Error(`the ${SERVERS.length} servers did not all see each other live with a coordinator within ${CLUSTER_TIMEOUT_MS} ms`);
}

export const correio: PeerDefinition = {
  id: 'correio',
  label: 'Correio',
  async start(options) {
    const scratch = scratchUnder(options.dataRoot, 'correio-tasks-bench-');
    let topology: Topology | undefined;
    const children: Child[] = [];
    const stop = async () => {
      await Promise.all(children.map((child) => child.stop()));
      await topology?.stop();
      scratch.remove();
    };
    try {
      options.progress(`Correio: starting broker, proxy, ref and ${SERVERS.length} servers…`);
      topology = await startTopology({ servers: SERVERS, ackPeers: 0, dataRoot: scratch.path, serverFlags: [], ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }) });
      await untilClustered(topology);
      const token = await prepareBenchUser(topology, []);
      const spawn = (role: 'producer' | 'worker') =>
        spawnChild(`Correio ${role}`, process.execPath, tsxArgs(CHILD, ['--role', role, '--broker', topology!.broker, '--queue', QUEUE, '--concurrency', String(options.concurrency), '--route', options.correioRoute]), { CORREIO_BENCH_TOKEN: token });
      const producer = spawn('producer');
      const worker = spawn('worker');
      children.push(producer, worker);
      await childrenReady(producer, worker);
      const broker = topology.broker;
      const running: RunningPeer = {
        name: 'Correio (this checkout)',
        configuration:
          `broker + proxy + ref + ${SERVERS.length} chat servers (apps/*/src/main.ts via tsx, password auth: every request carries an access token), ` +
          'LMDB synced on every commit, --task-replicas 2 (the default): a job change is acknowledged once it is durable on the coordinator and one more server; ' +
          `producers: one @correio/tasks TaskClient each (each enqueue awaited); 1 worker process, 1 TaskWorker, concurrency ${options.concurrency} (leases at most its free slots, long poll); ` +
          (options.correioRoute === 'direct' ? "their requests go straight to the coordinator's direct endpoint once connected (revision 1.9)" : 'their requests go through the broker only (--correio-route broker)'),
        producer,
        worker,
        serverPids: topology.processes.map(({ peer }) => peer.process.pid!),
        async verify(expectedJobs) {
          const client = new TaskClient({ broker, auth: () => token, timeoutMs: 10_000 });
          try {
            const counts = (await client.list({ queue: QUEUE, limit: 1 })).counts[QUEUE] ?? {};
            const succeeded = counts['succeeded'] ?? 0;
            const others = Object.entries(counts).filter(([state, count]) => state !== 'succeeded' && count > 0);
            if (succeeded === expectedJobs && others.length === 0) return undefined;
            return `the coordinator holds ${succeeded} succeeded jobs of ${expectedJobs} enqueued${others.length > 0 ? `, and ${others.map(([state, count]) => `${count} ${state}`).join(', ')}` : ''}`;
          } finally {
            await client.close();
          }
        },
        stop,
      };
      return running;
    } catch (error) {
      await stop();
      throw error;
    }
  },
};
