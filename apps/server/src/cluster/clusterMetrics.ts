import type { Counter, MetricsRegistry } from '@correio/observability';

/** What the metrics read from the cluster at scrape time. */
export interface ClusterGauges {
  readonly isCoordinator: boolean;
  readonly rank: number | undefined;
  readonly clockOffsetMs: number;
  readonly liveServerCount: number;
}

/**
 * The cluster's Prometheus metrics: `correio_clock_offset_ms`, `correio_coordinator`,
 * `correio_cluster_rank`, `correio_cluster_live_servers` (read at scrape time), and the counters
 * `correio_clock_sync_rounds_total{outcome}` and `correio_clock_adjustments_total{applied}` that
 * clock synchronisation increments.
 */
export function clusterMetrics(metrics: MetricsRegistry, cluster: ClusterGauges): { rounds: Counter<'outcome'>; adjustments: Counter<'applied'> } {
  metrics.gauge('clock_offset_ms', {
    help: 'Adjustment applied to this server\'s clock by Berkeley synchronisation so far, ms (slewed in, so it moves gradually).',
    collect: (gauge) => gauge.set(cluster.clockOffsetMs),
  });
  metrics.gauge('coordinator', {
    help: '1 while this server is the elected coordinator and holds its lease, else 0.',
    collect: (gauge) => gauge.set(cluster.isCoordinator ? 1 : 0),
  });
  metrics.gauge('cluster_rank', {
    help: 'The rank the reference server gave this server (0 until registered, or standalone).',
    collect: (gauge) => gauge.set(cluster.rank ?? 0),
  });
  metrics.gauge('cluster_live_servers', {
    help: 'Servers counted alive in the cached server list, this one included.',
    collect: (gauge) => gauge.set(cluster.liveServerCount),
  });
  const rounds = metrics.counter<'outcome'>('clock_sync_rounds_total', {
    help: 'Berkeley rounds this server coordinated: completed (adjustments sent), abandoned (stopped coordinating mid-round).',
    labelNames: ['outcome'],
  });
  const adjustments = metrics.counter<'applied'>('clock_adjustments_total', {
    help: 'clock.adjust.request received (its own as coordinator included), by whether it was applied.',
    labelNames: ['applied'],
  });
  return { rounds, adjustments };
}
