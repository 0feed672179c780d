import type { GatewayDashboard } from '@correio/protocol';
import { COMPONENT_SCHEMAS } from '../generated/protocolSchemas.js';
import { bucketDeltas, counterDelta, histogramQuantile, type Bucket } from './histogramQuantile.js';
import { total, type Metrics, type MetricSample } from './prometheusText.js';

export type DashboardService = GatewayDashboard['services'][number];

const SERVICE_NAME = new RegExp(String(COMPONENT_SCHEMAS['serviceName']?.['pattern']));
const MAX_SERVICES = 1_000;

/** The broker's metrics (apps/broker/src/brokerMetrics.ts), each with and without Correio's prefix. */
const names = (name: string) => [`correio_broker_${name}`, `broker_${name}`];
const REQUESTS = names('requests_total');
const ERRORS = names('errors_total');
const LATENCY_BUCKETS = names('request_duration_seconds_bucket');
const WORKERS = names('workers');
const IDLE = names('workers_idle');
const QUEUE = names('queue_depth');
const IN_FLIGHT = names('in_flight');

/**
 * The broker's services over one interval, from two scrapes of its /metrics: gauges as they are
 * now, counts and latency percentiles over the interval. `before` is the previous scrape; without
 * one the counts are 0 (there is no interval yet). Errors are those the broker answered itself
 * (no worker, unknown service, time-outs): a worker's error replies are the server's `errors`.
 */
export function serviceStats(now: Metrics, before: Metrics | undefined): DashboardService[] {
  const previous = before ?? now;
  // Each series grouped by service once, rather than scanned again for every service.
  const workers = byService(now.series(...WORKERS));
  const idle = byService(now.series(...IDLE));
  const queue = byService(now.series(...QUEUE));
  const inFlight = byService(now.series(...IN_FLIGHT));
  const requests = { now: byService(now.series(...REQUESTS)), before: byService(previous.series(...REQUESTS)) };
  const errors = { now: byService(now.series(...ERRORS)), before: byService(previous.series(...ERRORS)) };
  const latency = { now: byService(now.series(...LATENCY_BUCKETS)), before: byService(previous.series(...LATENCY_BUCKETS)) };
  const services = new Set([...workers.keys(), ...requests.now.keys(), ...queue.keys()]);
  const stats: DashboardService[] = [];
  for (const name of [...services].sort()) {
    if (!SERVICE_NAME.test(name)) continue;
    if (stats.length >= MAX_SERVICES) break;
    const gauge = (grouped: Grouped) => Math.max(0, Math.round(total(grouped.get(name) ?? []) ?? 0));
    const counter = ({ now, before }: { now: Grouped; before: Grouped }) => counterDelta(total(now.get(name) ?? []), total(before.get(name) ?? []));
    const buckets = bucketDeltas(bucketsOf(latency.now.get(name)), bucketsOf(latency.before.get(name)));
    const p50 = histogramQuantile(0.5, buckets);
    const p99 = histogramQuantile(0.99, buckets);
    stats.push({
      name,
      workers: gauge(workers),
      idle: gauge(idle),
      queue_depth: gauge(queue),
      in_flight: gauge(inFlight),
      requests: counter(requests),
      errors: counter(errors),
      ...(p50 !== undefined ? { p50_us: Math.round(p50 * 1e6) } : {}),
      ...(p99 !== undefined ? { p99_us: Math.round(p99 * 1e6) } : {}),
    });
  }
  return stats;
}

type Grouped = ReadonlyMap<string, readonly MetricSample[]>;

/** A series' samples by their `service` label (none: the empty name, which no service has). */
function byService(series: readonly MetricSample[]): Grouped {
  const grouped = new Map<string, MetricSample[]>();
  for (const sample of series) {
    const service = sample.labels['service'] ?? '';
    const list = grouped.get(service);
    if (list) list.push(sample);
    else grouped.set(service, [sample]);
  }
  return grouped;
}

function bucketsOf(series: readonly MetricSample[] | undefined): Bucket[] {
  const found: Bucket[] = [];
  for (const sample of series ?? []) {
    const le = Number(sample.labels['le'] === '+Inf' ? Infinity : sample.labels['le']);
    if (!Number.isNaN(le) && Number.isFinite(sample.value)) found.push({ le, count: sample.value });
  }
  return found;
}
