import type { ActionContext, EventContext, ServiceEvent, TaskContext } from './context.js';
import type { BackoffOptions } from './backoff.js';
import type { Duration } from './duration.js';
import type { BulkheadOptions } from './middleware/bulkhead.js';
import type { Middleware } from './middleware/Middleware.js';
import type { JsonSchema } from './middleware/validation.js';
import { toMessageDefinition, type MessageDefinition, type MessageHandler, type MessageHandlers } from './messages.js';

export interface ActionOptions {
  /** JSON Schema (2020-12) of the params; invalid params are rejected with VALIDATION naming the field. */
  readonly params?: JsonSchema;
  /** The longest one invocation may take; overrides the service's default. */
  readonly timeout?: Duration;
  /** Limits this action's concurrency, so it cannot take every worker; over the limit → OVERLOADED. */
  readonly bulkhead?: BulkheadOptions;
  /** Middleware around this action only, inside the service-wide chain. */
  readonly middleware?: readonly Middleware<ActionContext>[];
  readonly description?: string;
}

export type ActionHandler<P = unknown, R = unknown> = (ctx: ActionContext, params: P) => R | Promise<R>;

export interface ActionDefinition<P = unknown, R = unknown> extends ActionOptions {
  // A method signature on purpose: its parameters are bivariant, so a handler that declares the
  // type of its params still fits ActionDefinition<unknown>, and one that does not gets `unknown`.
  handler(ctx: ActionContext, params: P): R | Promise<R>;
}

export interface TaskOptions {
  /**
   * Run periodically, at this rate (a run that overruns delays the next; missed ticks are skipped).
   * Without it the task is long-running: started once, restarted if it throws.
   */
  readonly every?: Duration;
  /** For a periodic task: run once at start too, instead of first after `every`. Defaults to false. */
  readonly immediate?: boolean;
  /** Delays before restarts after failures. Defaults to 100ms doubling to 30s. */
  readonly backoff?: BackoffOptions;
}

export type TaskHandler = (ctx: TaskContext) => unknown;

export interface TaskDefinition extends TaskOptions {
  readonly handler: TaskHandler;
}

export interface EventOptions {
  /** JSON Schema (2020-12) of the event's data; an event whose data does not match is refused with VALIDATION. */
  readonly data?: JsonSchema;
}

export type EventHandler<D = unknown> = (ctx: EventContext, event: ServiceEvent<D>) => unknown;

export interface EventDefinition<D = unknown> extends EventOptions {
  handler(ctx: EventContext, event: ServiceEvent<D>): unknown;
}

/**
 * Everything a service does: its actions (by method name), tasks (by name), event handlers (by
 * event name) and typed protocol request handlers (by request type).
 */
export interface ServiceHandlers {
  readonly actions: Readonly<Record<string, ActionDefinition>>;
  readonly tasks: Readonly<Record<string, TaskDefinition>>;
  readonly events: Readonly<Record<string, EventDefinition>>;
  readonly messages?: Readonly<Record<string, MessageDefinition>>;
}

const DEFINED = Symbol('correio.serviceHandlers');

export interface ServiceSpec<A extends Record<string, ActionDefinition>> {
  readonly actions?: A;
  readonly tasks?: Readonly<Record<string, TaskDefinition>>;
  readonly events?: Readonly<Record<string, EventDefinition>>;
  /** Typed protocol request handlers: `{ 'chat.login.request': (ctx, body) => reply }` (or `{ handler, timeout, bulkhead, middleware }`). */
  readonly messages?: MessageHandlers;
}

/** Handlers declared as a plain object, the equivalent of a class with @action, @task, @on and @handles. */
export interface DefinedService<A extends Record<string, ActionDefinition> = Record<string, ActionDefinition>> {
  readonly actions: A;
  readonly tasks: Readonly<Record<string, TaskDefinition>>;
  readonly events: Readonly<Record<string, EventDefinition>>;
  readonly messages: Readonly<Record<string, MessageDefinition>>;
  readonly [DEFINED]: true;
}

/**
 * Declares a service's handlers without decorators:
 * `defineService({ actions: { hello: { params, handler } }, tasks: { tick: { every: '5s', handler } }, events: { 'user.joined': { handler } },
 * messages: { 'chat.login.request': (ctx, body) => ({ ... }) } })`.
 */
export function defineService<const A extends Record<string, ActionDefinition> = Record<never, never>>(
  spec: ServiceSpec<A>,
): DefinedService<A> {
  const messages: Record<string, MessageDefinition> = {};
  for (const [type, entry] of Object.entries(spec.messages ?? {})) {
    if (entry !== undefined) messages[type] = toMessageDefinition(entry as MessageHandler | MessageDefinition);
  }
  return { actions: spec.actions ?? ({} as A), tasks: spec.tasks ?? {}, events: spec.events ?? {}, messages, [DEFINED]: true };
}

export function isDefinedService(value: unknown): value is DefinedService {
  return typeof value === 'object' && value !== null && (value as { [DEFINED]?: unknown })[DEFINED] === true;
}

/** Typed actions of a service `S` from its definition: `ServiceContract<'greeter', typeof greeter>` → `{ 'greeter.hello': { params; result } }`. */
export type ServiceContract<S extends string, D> = D extends { readonly actions: infer A }
  ? {
      [M in keyof A & string as `${S}.${M}`]: A[M] extends { handler(ctx: ActionContext, params: infer P): infer R }
        ? { params: P; result: Awaited<R> }
        : never;
    }
  : never;

/** Typed actions of a decorated class: `ClassContract<'greeter', Greeter, 'hello'>` (name the action methods). */
export type ClassContract<S extends string, T, M extends keyof T & string> = {
  [K in M as `${S}.${K}`]: T[K] extends (ctx: ActionContext, params: infer P) => infer R ? { params: P; result: Awaited<R> } : never;
};
