import type { MetricsRegistry } from '@correio/observability';
import type { LogStore } from './LogStore.js';
import type { LogSync } from './LogSync.js';

/** The central logs' Prometheus metrics, read at scrape time. */
export function logMetrics(metrics: MetricsRegistry, sources: { readonly store: LogStore; readonly sync: LogSync }): void {
  const { store, sync } = sources;
  metrics.gauge('logs_lines', { help: 'Log lines the central log store holds (every program, all servers\' copies).', collect: (gauge) => gauge.set(store.lines) });
  metrics.gauge('logs_chars', { help: 'Characters of stored log lines, as retention by size counts them (200 a line for its keys, plus message and fields).', collect: (gauge) => gauge.set(store.chars) });
  metrics.gauge('logs_floor_seconds', { help: 'Lines written before this time (Unix seconds) are no longer kept (retention).', collect: (gauge) => gauge.set(store.floor / 1000) });
  metrics.gauge<'event'>('logs_sync', {
    help: 'Central log replication: copies to peers that failed, anti-entropy rounds and failed rounds, lines fetched from peers, lines deleted by retention.',
    labelNames: ['event'],
    collect: (gauge) => {
      const { copiesFailed, rounds, roundsFailed, fetched, pruned } = sync.stats;
      gauge.set({ event: 'copy_failed' }, copiesFailed);
      gauge.set({ event: 'round' }, rounds);
      gauge.set({ event: 'round_failed' }, roundsFailed);
      gauge.set({ event: 'fetched' }, fetched);
      gauge.set({ event: 'pruned' }, pruned);
    },
  });
}
