// Declaring a service: decorators or a plain object
export { action, task, on, handles } from './decorators.js';
export { handlersOf } from './handlers.js';
export {
  defineService,
  type ActionOptions,
  type ActionDefinition,
  type ActionHandler,
  type TaskOptions,
  type TaskDefinition,
  type TaskHandler,
  type EventOptions,
  type EventDefinition,
  type EventHandler,
  type ServiceHandlers,
  type DefinedService,
  type ServiceContract,
  type ClassContract,
} from './definition.js';
export {
  assertRequestType,
  type RequestType,
  type ReplyType,
  type ReplyBody,
  type MessageHandler,
  type MessageOptions,
  type MessageDefinition,
  type MessageHandlers,
} from './messages.js';
export type {
  ActionContext,
  CallContext,
  CallOptions,
  ClientCallContext,
  EmitReport,
  EventContext,
  EventDelivery,
  HandlerContext,
  MessageContext,
  Messaging,
  ServiceEvent,
  ServiceIdentity,
  TaskContext,
} from './context.js';
export type { TaskState, TaskStatus } from './TaskSupervisor.js';

// Running it, and calling it
export {
  createService,
  Service,
  type ServiceOptions,
  type ServiceHooks,
  type ServiceHealth,
  type ServiceState,
  type GapInfo,
  type DiscoveryDeps,
  MAX_GAP_TOPIC_LABELS,
} from './Service.js';
export { ServiceClient, type ServiceClientOptions, type Contract, type CallArgs } from './ServiceClient.js';
export { ClockStamp } from './ClockStamp.js';

// Discovery, behind an interface so another registry (a reference server) can replace it
export type { Discovery, DiscoveryChange, SelfDescription, ServiceInstanceInfo, WaitForOptions } from './discovery/Discovery.js';
export { AnnounceDiscovery, type AnnounceDiscoveryOptions, type AnnounceDiscoveryDeps } from './discovery/AnnounceDiscovery.js';
export { PeerTable, type Announcement } from './discovery/PeerTable.js';

// Middleware
export { compose, type Middleware, type Next, type AnyContextMiddleware } from './middleware/Middleware.js';
export { timeout } from './middleware/timeout.js';
export { retry, type RetryOptions } from './middleware/retry.js';
export {
  circuitBreaker,
  Circuit,
  type CircuitBreakerOptions,
  type CircuitBreakerMiddleware,
  type CircuitPermit,
  type CircuitSnapshot,
  type CircuitState,
} from './middleware/circuitBreaker.js';
export { bulkhead, type BulkheadOptions, type BulkheadMiddleware, type BulkheadSnapshot } from './middleware/bulkhead.js';
export { deduplicate, type DeduplicateOptions } from './middleware/deduplicate.js';
export { compileCheck, type JsonSchema, type ValueCheck, type CheckTarget } from './middleware/validation.js';
export { logging, type LoggingOptions } from './middleware/logging.js';
export { metrics, type MetricsMiddlewareOptions } from './middleware/metrics.js';

// Metrics
export { InMemoryMetrics, type MetricsSnapshot, type HistogramSnapshot } from './metrics/InMemoryMetrics.js';
export { PromMetrics } from './metrics/PromMetrics.js';
export { SERVICE_METRICS, DURATION_BUCKETS_SECONDS, type MetricsRecorder, type Labels } from './metrics/MetricsRecorder.js';

// Small pieces
export { toMillis, type Duration } from './duration.js';
export { exponentialBackoff, type Backoff, type BackoffOptions } from './backoff.js';
export { splitAction, brokerServiceName, eventTopic, announceTopic } from './names.js';
