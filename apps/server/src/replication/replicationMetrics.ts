import type { MetricsRegistry } from '@correio/observability';
import type { ChatStore } from '../store/ChatStore.js';
import type { ReplicationCounters, ServerReplication } from './ServerReplication.js';

/**
 * Replication metrics, read from live state at scrape time: the digest (per-origin high-water
 * marks, a fingerprint of the hash, so equal fingerprints on two servers mean equal stores), each
 * peer's lag as last measured, and the replication counters (Prometheus counters, counted as
 * the events happen).
 */
export function replicationMetrics(metrics: MetricsRegistry, sources: { readonly store: ChatStore; readonly replication: ServerReplication }): void {
  const { store, replication } = sources;
  metrics.gauge<'origin'>('replication_high_water_mark', {
    help: 'Per origin, the highest seq n such that operations 1..n of that origin are all held (only origins the membership listed are stored).',
    labelNames: ['origin'],
    collect: (gauge) => {
      gauge.reset();
      for (const [origin, hwm] of Object.entries(store.digest().hwm)) gauge.set({ origin }, hwm);
    },
  });
  metrics.gauge('replication_digest_fingerprint', {
    help: 'The first 48 bits of the store digest hash: equal on two servers when they hold the same operations.',
    collect: (gauge) => gauge.set(Number.parseInt(store.digest().hash.slice(0, 12), 16)),
  });
  metrics.gauge<'peer'>('replication_lag_ops', {
    help: "Operations this server held that the peer did not, at the latest digest comparison: the peer's replication lag.",
    labelNames: ['peer'],
    collect: (gauge) => {
      gauge.reset();
      for (const peer of replication.health().peers) gauge.set({ peer: peer.peer }, peer.ahead);
    },
  });
  metrics.gauge<'peer'>('replication_behind_ops', {
    help: 'Operations the peer held that this server did not, at the latest digest comparison (fetched right after).',
    labelNames: ['peer'],
    collect: (gauge) => {
      gauge.reset();
      for (const peer of replication.health().peers) gauge.set({ peer: peer.peer }, peer.behind);
    },
  });
  metrics.gauge<'peer'>('replication_last_sync_timestamp_seconds', {
    help: "When the peer's digest was last read (Unix time, s); 0 never.",
    labelNames: ['peer'],
    collect: (gauge) => {
      gauge.reset();
      for (const peer of replication.health().peers) gauge.set({ peer: peer.peer }, peer.lastSync / 1000);
    },
  });
  metrics.gauge('replication_caught_up', {
    help: '1 once the catch-up with the peers at start is done (the server serves chat requests), else 0.',
    collect: (gauge) => gauge.set(replication.caughtUp ? 1 : 0),
  });
  const counters: Record<keyof ReplicationCounters, [name: string, help: string]> = {
    liveReceived: ['replication_live_received_total', 'replica.op publications heard, echoes of this server included.'],
    liveApplied: ['replication_live_operations_total', 'Operations of peers applied as they were published on replica/.'],
    liveApplyFailures: ['replication_live_apply_failures_total', 'Live operations whose apply failed (fetched again later).'],
    subscriberGaps: ['replication_gaps_total', 'Sequence gaps on the replica/ topic: publications lost on the way, repaired by fetching.'],
    fetched: ['replication_fetched_operations_total', 'Operations fetched from peers that this store did not hold.'],
    syncs: ['replication_syncs_total', 'Syncs with a peer attempted: catch-up, gap repair, anti-entropy.'],
    syncFailures: ['replication_sync_failures_total', 'Syncs with a peer that failed: unreachable, timed out or refused.'],
    acksConfirmed: ['replication_acks_confirmed_total', 'Writes confirmed by the required number of peers (--ack-peers).'],
    acksFailed: ['replication_acks_failed_total', 'Writes whose peer confirmation failed or timed out (--ack-peers); the client got a retryable error.'],
    clockDriftSkipped: ['replication_clock_drift_skipped_total', 'Replicated operations stamped too far ahead to merge into this clock (stored all the same).'],
    unknownOriginDropped: ['replication_unknown_origin_dropped_total', 'Replicated operations dropped, never stored, because the cluster membership does not list their origin.'],
  };
  const registered = new Map<keyof ReplicationCounters, ReturnType<MetricsRegistry['counter']>>();
  for (const [counter, [name, help]] of Object.entries(counters) as [keyof ReplicationCounters, [string, string]][]) {
    const metric = metrics.counter(name, { help });
    const sofar = replication.health().counters[counter];
    if (sofar > 0) metric.inc(sofar);
    registered.set(counter, metric);
  }
  replication.onCount((counter, delta) => registered.get(counter)?.inc(delta));
}
