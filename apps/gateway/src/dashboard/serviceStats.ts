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
  const services = new Set<string>();
  for (const series of [WORKERS, REQUESTS, QUEUE]) for (const sample of now.series(...series)) services.add(sample.labels['service'] ?? '');
  const stats: DashboardService[] = [];
  for (const name of [...services].sort()) {
    if (!SERVICE_NAME.test(name)) continue;
    if (stats.length >= MAX_SERVICES) break;
    const of = (labels: Readonly<Record<string, string>>) => labels['service'] === name;
    const gauge = (series: string[]) => Math.max(0, Math.round(total(now.series(...series), of) ?? 0));
    const counter = (series: string[]) => counterDelta(total(now.series(...series), of), total(previous.series(...series), of));
    const latency = bucketDeltas(buckets(now.series(...LATENCY_BUCKETS), name), buckets(previous.series(...LATENCY_BUCKETS), name));
    const p50 = histogramQuantile(0.5, latency);
    const p99 = histogramQuantile(0.99, latency);
    stats.push({
      name,
      workers: gauge(WORKERS),
      idle: gauge(IDLE),
      queue_depth: gauge(QUEUE),
      in_flight: gauge(IN_FLIGHT),
      requests: counter(REQUESTS),
      errors: counter(ERRORS),
      ...(p50 !== undefined ? { p50_us: Math.round(p50 * 1e6) } : {}),
      ...(p99 !== undefined ? { p99_us: Math.round(p99 * 1e6) } : {}),
    });
  }
  return stats;
}

function buckets(series: readonly MetricSample[], service: string): Bucket[] {
  const found: Bucket[] = [];
  for (const sample of series) {
    if (sample.labels['service'] !== service) continue;
    const le = Number(sample.labels['le'] === '+Inf' ? Infinity : sample.labels['le']);
    if (!Number.isNaN(le) && Number.isFinite(sample.value)) found.push({ le, count: sample.value });
  }
  return found;
}
