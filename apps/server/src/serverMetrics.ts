import type { LamportClock } from '@correio/clocks';
import type { MetricsRegistry } from '@correio/observability';
import type { ChatServer } from './ChatServer.js';
import type { OperationFanout } from './OperationFanout.js';
import type { ChatStore } from './store/ChatStore.js';

/**
 * The server's own Prometheus metrics, read from its counters at scrape time (the request
 * counters and latencies are the service framework's `correio_service_*`).
 */
export function serverMetrics(
  metrics: MetricsRegistry,
  sources: { readonly store: ChatStore; readonly handlers: ChatServer; readonly fanout: OperationFanout; readonly lamport: LamportClock; readonly berkeleyPollsRefused: () => number },
): void {
  const { store, handlers, fanout, lamport, berkeleyPollsRefused } = sources;
  metrics.gauge<'clock' | 'outcome' | 'input'>('clock_bounded_inputs', {
    help: 'Received clock values outside the protocol bounds (ENCODING.md §4.1): Lamport values merged only up to the bound (requests among them are served all the same), Berkeley polls with a forged round. HLC values too far ahead: replication_clock_drift_skipped_total.',
    labelNames: ['clock', 'outcome', 'input'],
    collect: (gauge) => {
      const { clamped, clampedRequests } = lamport.stats;
      gauge.set({ clock: 'lamport', outcome: 'clamped', input: 'request' }, clampedRequests);
      gauge.set({ clock: 'lamport', outcome: 'clamped', input: 'other' }, clamped - clampedRequests);
      gauge.set({ clock: 'berkeley', outcome: 'refused', input: 'request' }, berkeleyPollsRefused());
    },
  });
  metrics.gauge('server_store_operations', { help: 'Operations held by the store, all origins.', collect: (gauge) => gauge.set(store.digest().ops) });
  metrics.gauge<'kind'>('server_operations_committed', {
    help: 'Operations committed by this process, by kind.',
    labelNames: ['kind'],
    collect: (gauge) => {
      for (const [kind, count] of Object.entries(handlers.counters.committed)) gauge.set({ kind }, count);
    },
  });
  metrics.gauge('server_requests_deduplicated', {
    help: 'Requests answered with the operation an earlier request with the same id committed.',
    collect: (gauge) => gauge.set(handlers.counters.deduplicated),
  });
  metrics.gauge<'type'>('server_events_published', {
    help: 'Events handed to the proxy publisher, by type.',
    labelNames: ['type'],
    collect: (gauge) => {
      for (const [type, count] of Object.entries(fanout.counters.published)) gauge.set({ type }, count);
    },
  });
  metrics.gauge('server_events_dropped', {
    help: 'Events of committed operations the publisher refused (queue full); readers find them in the history.',
    collect: (gauge) => gauge.set(fanout.counters.dropped),
  });
}
