// The log service the benchmark ships to: broker, proxy, ref and 1 or 3 chat servers as child
// processes (e2e/topology.ts, each server with fsync on every commit), ready once every server
// sees every other live, so each batch is copied to all the peers before its reply. Anti-entropy
// waits an hour, so what a server holds after a run is what it took or was copied.
import { startTopology, type Topology } from '../e2e/topology.js';

const PEERS_TIMEOUT_MS = 60_000;
const POLL_MS = 100;

async function livePeers(healthUrl: string): Promise<number> {
  try {
    const response = await fetch(healthUrl, { signal: AbortSignal.timeout(5_000) });
    const health = (await response.json()) as { cluster?: { peers?: unknown[] } };
    return health.cluster?.peers?.length ?? 0;
  } catch {
    return 0;
  }
}

/** Starts the log service on `servers` chat servers under `dataRoot`. */
export async function startLogService(servers: number, dataRoot: string): Promise<Topology> {
  const ids = Array.from({ length: servers }, (_, n) => `s${n + 1}`);
  // No anti-entropy round during a run: a line a peer holds got there by the copy made before the reply.
  const topology = await startTopology({ servers: ids, ackPeers: 0, dataRoot, serverFlags: ['--log-sync-interval', '1h'] });
  const deadline = Date.now() + PEERS_TIMEOUT_MS;
  // Bounded by the deadline.
  while (Date.now() < deadline) {
    const peers = await Promise.all([...topology.health.values()].map(livePeers));
    if (peers.every((count) => count === servers - 1)) return topology;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  await topology.stop();
  throw new Error(`the ${servers} servers did not all see each other live within ${PEERS_TIMEOUT_MS} ms`);
}
