export { createLogger, resolveLogLevel, isLogLevel, LOG_LEVELS, DEFAULT_LOG_LEVEL, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
export {
  createMetrics,
  MetricsRegistry,
  METRIC_PREFIX,
  LATENCY_BUCKETS_SECONDS,
  type Counter,
  type Gauge,
  type Histogram,
  type MetricsOptions,
} from './metrics.js';
export { startHttpSidecar, type HttpSidecar, type HttpSidecarOptions, type HealthStatus } from './httpSidecar.js';
export { onShutdown, shutdown, isShuttingDown, type ShutdownHandler, type ShutdownOptions } from './shutdown.js';
export {
  Command,
  Option,
  InvalidArgumentError,
  addCommonOptions,
  envOption,
  parsePort,
  parsePositiveInt,
  parseNonNegativeInt,
  parseDurationMs,
  parseList,
  parseEndpoint,
  parseCurveKey,
  runMain,
  type CommonOptions,
} from './cli.js';
