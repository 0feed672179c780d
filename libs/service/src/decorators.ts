import type { BodyOf } from '@correio/protocol';
import type { ActionContext, EventContext, MessageContext, ServiceEvent, TaskContext } from './context.js';
import type { ActionOptions, EventOptions, ServiceHandlers, TaskOptions, ActionDefinition, TaskDefinition, EventDefinition } from './definition.js';
import { assertRequestType, type MessageDefinition, type MessageOptions, type ReplyBody, type RequestType } from './messages.js';
import { assertEventName } from './names.js';

type Declaration =
  | { readonly kind: 'action'; readonly options: ActionOptions }
  | { readonly kind: 'task'; readonly options: TaskOptions }
  | { readonly kind: 'event'; readonly event: string; readonly options: EventOptions }
  | { readonly kind: 'message'; readonly type: RequestType; readonly options: MessageOptions };

const DECORATOR_NAMES = { action: 'action', task: 'task', event: 'on', message: 'handles' } as const;

// Keyed by the decorated method itself: no Symbol.metadata needed (Node 20 has none, and tsc
// drops decorator metadata without it), no per-instance work, and an undecorated override in a
// subclass hides a decorated base method, just as the override hides it in plain JavaScript.
const DECLARATIONS = new WeakMap<(...args: never[]) => unknown, Declaration[]>();

function declare(method: (...args: never[]) => unknown, context: { readonly name: string | symbol; readonly static: boolean; readonly private: boolean }, declaration: Declaration): void {
  if (context.static || context.private) {
    throw new TypeError(`@${DECORATOR_NAMES[declaration.kind]} needs a public instance method; ${String(context.name)} is ${context.static ? 'static' : 'private'}`);
  }
  if (typeof context.name !== 'string') throw new TypeError('@action, @task, @on and @handles need a method with a string name');
  const list = DECLARATIONS.get(method) ?? [];
  list.push(declaration);
  DECLARATIONS.set(method, list);
}

/** Serves the method as the action `<service>.<method name>`: `async hello(ctx, params) { … }`. */
export function action(options: ActionOptions = {}) {
  return function <This, P, R>(method: (this: This, ctx: ActionContext, params: P) => R, context: ClassMethodDecoratorContext<This, (this: This, ctx: ActionContext, params: P) => R>): void {
    declare(method as never, context, { kind: 'action', options });
  };
}

/** Runs the method as a background task: long-running, or periodic with `{ every: '5s' }`. It gets ctx.signal. */
export function task(options: TaskOptions = {}) {
  return function <This, R>(method: (this: This, ctx: TaskContext) => R, context: ClassMethodDecoratorContext<This, (this: This, ctx: TaskContext) => R>): void {
    declare(method as never, context, { kind: 'task', options });
  };
}

/** Handles the event `name`, delivered by emit (one instance of this service) or broadcast (every instance). */
export function on(name: string, options: EventOptions = {}) {
  assertEventName(name);
  return function <This, D, R>(
    method: (this: This, ctx: EventContext, event: ServiceEvent<D>) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ctx: EventContext, event: ServiceEvent<D>) => R>,
  ): void {
    declare(method as never, context, { kind: 'event', event: name, options });
  };
}

/**
 * Serves the method as the handler of a protocol request type, on the broker services the service
 * is told to `serve`: `@handles('chat.login.request') async login(ctx, body) { return { user, … } }`.
 * The body and the reply are typed by the request type; the reply type is `MESSAGE_INFO[type].reply`.
 */
export function handles<T extends RequestType>(type: T, options: MessageOptions<T> = {}) {
  assertRequestType(type);
  return function <This>(
    method: (this: This, ctx: MessageContext<T>, body: BodyOf<T>) => ReplyBody<T> | Promise<ReplyBody<T>>,
    context: ClassMethodDecoratorContext<This, (this: This, ctx: MessageContext<T>, body: BodyOf<T>) => ReplyBody<T> | Promise<ReplyBody<T>>>,
  ): void {
    declare(method as never, context, { kind: 'message', type, options: options as unknown as MessageOptions });
  };
}

/** True when `instance` has at least one method decorated with @action, @task, @on or @handles. */
export function hasDecoratedMethods(instance: object): boolean {
  return methodsOf(instance).some(([, method]) => DECLARATIONS.has(method));
}

/** The handlers declared by decorators on `instance`'s class (and its base classes), bound to `instance`. */
export function collectHandlers(instance: object): ServiceHandlers {
  const actions: Record<string, ActionDefinition> = {};
  const tasks: Record<string, TaskDefinition> = {};
  const events: Record<string, EventDefinition> = {};
  const messages: Record<string, MessageDefinition> = {};
  for (const [name, method] of methodsOf(instance)) {
    for (const declaration of DECLARATIONS.get(method) ?? []) {
      const bound = method.bind(instance) as (...args: unknown[]) => unknown;
      switch (declaration.kind) {
        case 'action':
          actions[name] = { ...declaration.options, handler: bound };
          break;
        case 'task':
          tasks[name] = { ...declaration.options, handler: bound };
          break;
        case 'event':
          if (events[declaration.event]) throw new TypeError(`two methods handle the event ${declaration.event}; one handler per event`);
          events[declaration.event] = { ...declaration.options, handler: bound };
          break;
        case 'message':
          if (messages[declaration.type]) throw new TypeError(`two methods handle ${declaration.type}; one handler per request type`);
          messages[declaration.type] = { ...declaration.options, handler: bound as MessageDefinition['handler'] };
          break;
      }
    }
  }
  return { actions, tasks, events, messages };
}

/** Every method on the prototype chain, nearest definition first (an override hides its base). */
function methodsOf(instance: object): [string, (...args: never[]) => unknown][] {
  const seen = new Set<string>();
  const methods: [string, (...args: never[]) => unknown][] = [];
  for (let proto = Object.getPrototypeOf(instance); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (typeof value === 'function') methods.push([name, value]);
    }
  }
  return methods;
}
