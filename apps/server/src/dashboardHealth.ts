import { packageVersion } from '@correio/observability';
import type { ClusterHealth } from './cluster/Cluster.js';
import type { RecentOperation } from './RecentOperations.js';
import type { ReplicationHealth } from './replication/ServerReplication.js';
import type { StoreDigest } from './store/ChatStore.js';

/** This server's package version (src/ and dist/ both sit next to package.json). */
export const SERVER_VERSION = packageVersion(import.meta.url);

/** High-water marks shown at most (defs.json `dashboardNode.high_water_marks` maxItems). */
const MAX_HIGH_WATER_MARKS = 1_000;

/**
 * The flat /health fields an operator's dashboard shows (protocol revision 1.3, defs.json
 * `dashboardNode`), under the names the dashboard uses. `null`: not known (yet).
 */
export interface DashboardHealth {
  readonly version: string;
  /** The rank the reference server gave this server; null until registered, or standalone. */
  readonly rank: number | null;
  readonly role: 'coordinator' | 'follower' | 'candidate' | 'standalone';
  /** The coordinator's server id, when one is known. */
  readonly coordinator: string | null;
  /**
   * This clock minus the time the last Berkeley round agreed on (the coordinator's average, which
   * every clock, the coordinator's own included, is moved to), in µs: minus the adjustment this
   * server received then. Null before its first round.
   */
  readonly clock_offset_us: number | null;
  /** The Lamport clock that stamps its envelopes and operations. */
  readonly lamport: number;
  readonly store_ops: number;
  readonly store_bytes: number;
  /** The most operations any live peer held that this server did not, at the latest digest comparison. */
  readonly replication_lag_ops: number;
  /** Per origin, the highest seq held with no gap below it, by origin (at most 1,000). */
  readonly high_water_marks: readonly { readonly origin: string; readonly seq: number }[];
  /** The newest operations applied here (own and replicated), newest first. */
  readonly recent_ops: readonly RecentOperation[];
}

export interface DashboardSources {
  readonly digest: StoreDigest;
  readonly storeBytes: number;
  readonly lamport: number;
  readonly cluster: ClusterHealth;
  readonly replication: ReplicationHealth;
  readonly recent: readonly RecentOperation[];
}

export function dashboardHealth({ digest, storeBytes, lamport, cluster, replication, recent }: DashboardSources): DashboardHealth {
  const adjustment = cluster.clock.lastAdjustment;
  return {
    version: SERVER_VERSION,
    rank: cluster.cluster.rank,
    role: cluster.cluster.role as DashboardHealth['role'],
    coordinator: cluster.cluster.coordinator?.server ?? null,
    clock_offset_us: adjustment === undefined ? null : -Math.round(adjustment.adjustMs * 1000),
    lamport,
    store_ops: digest.ops,
    store_bytes: storeBytes,
    replication_lag_ops: Math.max(0, ...replication.peers.map((peer) => peer.behind)),
    high_water_marks: Object.keys(digest.hwm)
      .sort()
      .slice(0, MAX_HIGH_WATER_MARKS)
      .map((origin) => ({ origin, seq: digest.hwm[origin]! })),
    recent_ops: recent,
  };
}

/** `read`, called at most once per `ms`: a value cheap to show often but not free to compute (a stat). */
export function cachedFor<T>(ms: number, read: () => T): () => T {
  let value: T;
  let readAt = -Infinity;
  return () => {
    const now = performance.now();
    if (now - readAt >= ms) {
      value = read();
      readAt = now;
    }
    return value;
  };
}
