import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

/** Every Correio metric name starts with this, so dashboards can find them in a shared Prometheus. */
export const METRIC_PREFIX = 'correio_';

/** Latency buckets in seconds, from 50 µs to 10 s: a broker round trip on loopback up to a slow service. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface MetricsOptions {
  /** Also export the process metrics prom-client collects (CPU, memory, event loop lag). Defaults to true. */
  readonly processMetrics?: boolean;
  /** Labels added to every series, such as `{ instance: 'broker-1' }`. */
  readonly defaultLabels?: Record<string, string>;
}

interface MetricConfig<L extends string> {
  readonly help: string;
  readonly labelNames?: readonly L[];
}

interface GaugeConfig<L extends string> extends MetricConfig<L> {
  /** Called at scrape time to set the gauge from live state. */
  readonly collect?: (gauge: Gauge<L>) => void;
}

interface HistogramConfig<L extends string> extends MetricConfig<L> {
  readonly buckets?: readonly number[];
}

/** A prom-client registry whose metrics all carry the `correio_` prefix. */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor(options: MetricsOptions = {}) {
    if (options.defaultLabels) this.registry.setDefaultLabels(options.defaultLabels);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
  }

  counter<L extends string = never>(name: string, config: MetricConfig<L>): Counter<L> {
    return new Counter<L>({ name: prefixed(name), help: config.help, labelNames: config.labelNames ?? [], registers: [this.registry] });
  }

  gauge<L extends string = never>(name: string, config: GaugeConfig<L>): Gauge<L> {
    const collect = config.collect;
    return new Gauge<L>({
      name: prefixed(name),
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: [this.registry],
      ...(collect ? { collect(this: Gauge<L>) { collect(this); } } : {}),
    });
  }

  histogram<L extends string = never>(name: string, config: HistogramConfig<L>): Histogram<L> {
    return new Histogram<L>({
      name: prefixed(name),
      help: config.help,
      labelNames: config.labelNames ?? [],
      buckets: [...(config.buckets ?? LATENCY_BUCKETS_SECONDS)],
      registers: [this.registry],
    });
  }

  /** The Prometheus text exposition of every metric. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Creates a registry; see MetricsRegistry. */
export function createMetrics(options: MetricsOptions = {}): MetricsRegistry {
  return new MetricsRegistry(options);
}

function prefixed(name: string): string {
  const full = name.startsWith(METRIC_PREFIX) ? name : `${METRIC_PREFIX}${name}`;
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(full)) throw new RangeError(`invalid metric name ${JSON.stringify(full)}`);
  return full;
}
