import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS, SERVICE_METRICS, type Labels, type MetricsRecorder } from './MetricsRecorder.js';

type Metric = Counter<string> | Gauge<string> | Histogram<string>;

/**
 * Records into a prom-client registry (such as `createMetrics().registry` of @correio/observability),
 * under `correio_<name>`. Metrics are created on first use with the label names of SERVICE_METRICS.
 */
export class PromMetrics implements MetricsRecorder {
  readonly #metrics = new Map<string, Metric>();

  constructor(
    private readonly registry: Registry,
    private readonly prefix = 'correio_',
  ) {}

  increment(name: string, labels: Labels, value = 1): void {
    (this.#metric(name, labels, 'counter') as Counter<string>).inc(labels, value);
  }

  observe(name: string, labels: Labels, value: number): void {
    (this.#metric(name, labels, 'histogram') as Histogram<string>).observe(labels, value);
  }

  set(name: string, labels: Labels, value: number): void {
    (this.#metric(name, labels, 'gauge') as Gauge<string>).set(labels, value);
  }

  #metric(name: string, labels: Labels, kind: 'counter' | 'histogram' | 'gauge'): Metric {
    const existing = this.#metrics.get(name);
    if (existing) return existing;
    const known = (SERVICE_METRICS as Record<string, { help: string; labels: readonly string[] } | undefined>)[name];
    const config = {
      name: `${this.prefix}${name}`,
      help: known?.help ?? name.replaceAll('_', ' '),
      labelNames: [...(known?.labels ?? Object.keys(labels))],
      registers: [this.registry],
    };
    // A registry shared by several services in one process already holds the metric: reuse it.
    const registered = this.registry.getSingleMetric(config.name) as Metric | undefined;
    const metric =
      registered ??
      (kind === 'counter' ? new Counter(config) : kind === 'gauge' ? new Gauge(config) : new Histogram({ ...config, buckets: [...DURATION_BUCKETS_SECONDS] }));
    this.#metrics.set(name, metric);
    return metric;
  }
}
