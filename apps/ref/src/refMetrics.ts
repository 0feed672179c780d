import type { Counter, MetricsRegistry } from '@correio/observability';
import type { CoordinatorTracker } from './CoordinatorTracker.js';
import type { ServerRegistry } from './ServerRegistry.js';

export interface RefMetrics {
  readonly registrations: Counter<'outcome'>;
  readonly heartbeats: Counter<'known'>;
  readonly membershipEvents: Counter<'state'>;
  readonly storeFailures: Counter;
  readonly publishFailures: Counter;
}

/** The reference server's metrics, all prefixed `correio_ref_`. */
export function refMetrics(metrics: MetricsRegistry, registry: ServerRegistry, coordinator: CoordinatorTracker): RefMetrics {
  metrics.gauge<'state'>('ref_servers', {
    help: 'Listed servers by liveness.',
    labelNames: ['state'],
    collect: (gauge) => {
      const { listed, alive } = registry.counts;
      gauge.set({ state: 'alive' }, alive);
      gauge.set({ state: 'down' }, listed - alive);
    },
  });
  metrics.gauge('ref_servers_known', { help: 'Servers remembered with their rank, listed or not (at most --max-known).', collect: (gauge) => gauge.set(registry.counts.known) });
  metrics.gauge('ref_servers_forgotten', { help: 'Unlisted servers forgotten since start to stay within --max-known.', collect: (gauge) => gauge.set(registry.forgotten) });
  metrics.gauge('ref_ranks_issued', { help: 'Ranks ever issued (the next rank minus one).', collect: (gauge) => gauge.set(registry.nextRank - 1) });
  metrics.gauge('ref_coordinator_term', { help: 'Term of the latest coordinator announcement seen (0: none).', collect: (gauge) => gauge.set(coordinator.current?.term ?? 0) });
  return {
    registrations: metrics.counter<'outcome'>('ref_registrations_total', { help: 'Registrations by outcome: new, known, failed.', labelNames: ['outcome'] }),
    heartbeats: metrics.counter<'known'>('ref_heartbeats_total', { help: 'Heartbeats, by whether the server was known.', labelNames: ['known'] }),
    membershipEvents: metrics.counter<'state'>('ref_membership_events_total', { help: 'ref.membership events published, by state.', labelNames: ['state'] }),
    storeFailures: metrics.counter('ref_store_failures_total', { help: 'Failed writes of the registry state file.' }),
    publishFailures: metrics.counter('ref_publish_failures_total', { help: 'Membership events that could not be queued for publication.' }),
  };
}
