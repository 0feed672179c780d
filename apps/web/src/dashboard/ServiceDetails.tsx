// The drill-down of one broker service: its workers and queue, and its rates over the last interval.
import type { DashboardService } from '@correio/protocol';
import { formatMicros, formatNumber, perSecond } from './format.js';
import { Facts } from './Facts.js';

export function ServiceDetails({ service, intervalMs }: { service: DashboardService; intervalMs: number }) {
  return (
    <Facts
      facts={[
        ['Workers', String(service.workers)],
        ['Idle workers', String(service.idle)],
        ['In flight', service.in_flight === undefined ? '–' : String(service.in_flight)],
        ['Queue at the broker', String(service.queue_depth)],
        ['Requests', `${formatNumber(perSecond(service.requests, intervalMs))} /s`],
        ['Errors', `${formatNumber(perSecond(service.errors, intervalMs))} /s`],
        ['Latency p50', formatMicros(service.p50_us)],
        ['Latency p99', formatMicros(service.p99_us)],
      ]}
    />
  );
}
