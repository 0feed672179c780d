export { createLogger, componentLogger, setLogLevel, addLogTap, type LogTap, resolveLogLevel, isLogLevel, LOG_LEVELS, DEFAULT_LOG_LEVEL, type Logger, type LogLevel, type LoggerOptions } from './logger.js';
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
export { LabelGuard } from './labelGuard.js';
export { startHttpSidecar, type HttpSidecar, type HttpSidecarOptions, type HealthStatus } from './httpSidecar.js';
export { packageVersion } from './packageVersion.js';
export { onShutdown, shutdown, isShuttingDown, type ShutdownHandler, type ShutdownOptions } from './shutdown.js';
export { DataDirLock, DataDirLockedError } from './dataDirLock.js';
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
  addCurveServerOptions,
  curveServerKey,
  addCurveClientOptions,
  curveClientKeys,
  runMain,
  type CommonOptions,
  type CurveServerKey,
  type CurveClientKeys,
  type CurveClientKeySet,
} from './cli.js';
export { endpointProblem } from './endpoint.js';
export { writeFileDurably } from './writeFileDurably.js';
export { readFileIfPresent } from './readFileIfPresent.js';
export { traceWrite, createWriteTrace, type TraceWrite } from './writeTrace.js';
export { announceReady, onReady, type ReadyListener } from './readiness.js';
