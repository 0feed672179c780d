import { DURATION_BUCKETS_SECONDS, type Labels, type MetricsRecorder } from './MetricsRecorder.js';

export interface HistogramSnapshot {
  readonly count: number;
  readonly sum: number;
  /** Cumulative counts: how many observations were ≤ each upper bound. */
  readonly buckets: Readonly<Record<string, number>>;
}

export interface MetricsSnapshot {
  /** `name{label="value",…}` → value. */
  readonly counters: Readonly<Record<string, number>>;
  readonly gauges: Readonly<Record<string, number>>;
  readonly histograms: Readonly<Record<string, HistogramSnapshot>>;
}

interface Histogram {
  count: number;
  sum: number;
  readonly buckets: number[];
}

/** Metrics as plain objects: cheap, dependency-free, read with snapshot() or counter(). */
export class InMemoryMetrics implements MetricsRecorder {
  readonly #counters = new Map<string, number>();
  readonly #gauges = new Map<string, number>();
  readonly #histograms = new Map<string, Histogram>();

  constructor(private readonly bounds: readonly number[] = DURATION_BUCKETS_SECONDS) {}

  increment(name: string, labels: Labels, value = 1): void {
    const key = seriesKey(name, labels);
    this.#counters.set(key, (this.#counters.get(key) ?? 0) + value);
  }

  observe(name: string, labels: Labels, value: number): void {
    const key = seriesKey(name, labels);
    let histogram = this.#histograms.get(key);
    if (!histogram) {
      histogram = { count: 0, sum: 0, buckets: this.bounds.map(() => 0) };
      this.#histograms.set(key, histogram);
    }
    histogram.count++;
    histogram.sum += value;
    this.bounds.forEach((bound, index) => {
      if (value <= bound) histogram.buckets[index]!++;
    });
  }

  set(name: string, labels: Labels, value: number): void {
    this.#gauges.set(seriesKey(name, labels), value);
  }

  /** The sum of a counter over every series whose labels include `labels`. */
  counter(name: string, labels: Labels = {}): number {
    let total = 0;
    for (const [key, value] of this.#counters) if (matches(key, name, labels)) total += value;
    return total;
  }

  snapshot(): MetricsSnapshot {
    const histograms: Record<string, HistogramSnapshot> = {};
    for (const [key, histogram] of this.#histograms) {
      const buckets: Record<string, number> = {};
      this.bounds.forEach((bound, index) => (buckets[String(bound)] = histogram.buckets[index]!));
      buckets['+Inf'] = histogram.count;
      histograms[key] = { count: histogram.count, sum: histogram.sum, buckets };
    }
    return { counters: Object.fromEntries(this.#counters), gauges: Object.fromEntries(this.#gauges), histograms };
  }
}

function seriesKey(name: string, labels: Labels): string {
  const entries = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

function matches(key: string, name: string, labels: Labels): boolean {
  if (key !== name && !key.startsWith(`${name}{`)) return false;
  return Object.entries(labels).every(([k, v]) => key.includes(`${k}=${JSON.stringify(v)}`));
}
