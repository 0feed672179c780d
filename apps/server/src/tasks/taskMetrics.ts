import { LabelGuard, type MetricsRegistry } from '@correio/observability';
import type { TaskJob } from '@correio/protocol';
import type { TaskStore } from './TaskStore.js';

/** Runtime buckets in seconds: a no-op job to an hour's work. */
const RUNTIME_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

export type SettledHow = 'succeeded' | 'retrying' | 'dead' | 'cancelled' | 'released' | 'lease_expired';

/** The task queue's Prometheus metrics: depth per queue and state (every server's copy), and what the coordinator decided. */
export function taskMetrics(metrics: MetricsRegistry, store: TaskStore): (job: TaskJob, how: SettledHow, runtimeMs?: number) => void {
  // Queue names come from producers: a bounded number of them are labels.
  const queues = new LabelGuard(256);
  metrics.gauge<'queue' | 'state'>('tasks_jobs', {
    help: 'Jobs this server holds, per queue and state (the coordinator decides; the others hold its copies).',
    labelNames: ['queue', 'state'],
    collect: (gauge) => {
      gauge.reset();
      for (const [queue, states] of Object.entries(store.counts())) {
        for (const [state, count] of Object.entries(states)) gauge.inc({ queue: queues.label(queue), state }, count ?? 0);
      }
    },
  });
  const outcomes = metrics.counter<'queue' | 'outcome'>('tasks_outcomes_total', {
    help: 'Attempts ended on this coordinator: succeeded, retrying (failed, retried after a backoff), dead, cancelled, released (given back unstarted), lease_expired (the worker stopped heartbeating).',
    labelNames: ['queue', 'outcome'],
  });
  const runtime = metrics.histogram<'queue'>('tasks_runtime_seconds', { help: 'From lease to settlement, per queue.', labelNames: ['queue'], buckets: RUNTIME_BUCKETS });
  return (job, how, runtimeMs) => {
    const queue = queues.label(job.queue);
    outcomes.inc({ queue, outcome: how });
    if (runtimeMs !== undefined) runtime.observe({ queue }, runtimeMs / 1000);
  };
}
