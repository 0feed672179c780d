/** Label values of one series. */
export type Labels = Readonly<Record<string, string>>;

/**
 * Where the framework records its metrics. Two implementations ship: InMemoryMetrics (plain objects,
 * read with snapshot()) and PromMetrics (prom-client). Names carry no prefix; PromMetrics adds `correio_`.
 */
export interface MetricsRecorder {
  /** Adds `value` (default 1) to a counter. */
  increment(name: string, labels: Labels, value?: number): void;
  /** Records one observation (durations in seconds) in a histogram. */
  observe(name: string, labels: Labels, value: number): void;
  /** Sets a gauge. */
  set(name: string, labels: Labels, value: number): void;
}

/** The metrics the framework records, with their help text and label names. */
export const SERVICE_METRICS = {
  service_calls_total: { kind: 'counter', help: 'Action invocations served, by outcome (OK or error code).', labels: ['service', 'action', 'outcome'] },
  service_call_duration_seconds: { kind: 'histogram', help: 'Time to serve an action, in seconds.', labels: ['service', 'action'] },
  service_inflight_calls: { kind: 'gauge', help: 'Action invocations being served now.', labels: ['service'] },
  service_events_total: { kind: 'counter', help: 'Events handled, by delivery (emit, broadcast) and outcome.', labels: ['service', 'event', 'delivery', 'outcome'] },
  service_event_gaps_total: { kind: 'counter', help: 'Messages missed on proxy topics, from sequence gaps.', labels: ['service', 'topic'] },
  service_contained_failures_total: { kind: 'counter', help: 'Failures on a receive or reply path that were contained (logged, the process kept serving), by path.', labels: ['service', 'path'] },
  service_task_restarts_total: { kind: 'counter', help: 'Background task restarts after a failure.', labels: ['service', 'task'] },
  client_calls_total: { kind: 'counter', help: 'Calls made by a ServiceClient, by outcome (OK or error code).', labels: ['action', 'outcome'] },
  client_call_duration_seconds: { kind: 'histogram', help: 'Time from call to result at the caller, retries included, in seconds.', labels: ['action'] },
} as const satisfies Record<string, { kind: 'counter' | 'histogram' | 'gauge'; help: string; labels: readonly string[] }>;

/** Latency buckets in seconds, from 100 µs to 10 s. */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Records nothing: the default when no recorder is configured. */
export const noMetrics: MetricsRecorder = { increment: () => undefined, observe: () => undefined, set: () => undefined };
