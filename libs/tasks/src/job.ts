import type { JobContext, JobHandler } from './TaskWorker.js';

export interface JobOptions {
  /** The queue its jobs come from. Default `default`. */
  readonly queue?: string;
}

interface JobDeclaration {
  readonly task: string;
  readonly queue: string;
}

// Keyed by the decorated method itself, as @correio/service's decorators are.
const DECLARATIONS = new WeakMap<(...args: never[]) => unknown, JobDeclaration>();

/**
 * Runs the method as the handler of the task `task`: `@job('email.send', { queue: 'email' }) async
 * send(args, ctx) { … }`. A class given to `createService` (or `jobHandlersOf`) with @job methods
 * gets a task worker for their queues next to its actions.
 */
export function job(task: string, options: JobOptions = {}) {
  return function <This, A, R>(method: (this: This, args: A, ctx: JobContext) => R, context: ClassMethodDecoratorContext<This, (this: This, args: A, ctx: JobContext) => R>): void {
    if (context.static || context.private) throw new TypeError(`@job needs a public instance method; ${String(context.name)} is ${context.static ? 'static' : 'private'}`);
    DECLARATIONS.set(method as never, { task, queue: options.queue ?? 'default' });
  };
}

/** The @job handlers of `instance`'s class (and its base classes), bound to it, and the queues they take jobs from. */
export function jobHandlersOf(instance: object): { handlers: Record<string, JobHandler>; queues: string[] } {
  const handlers: Record<string, JobHandler> = Object.create(null) as Record<string, JobHandler>;
  const queues = new Set<string>();
  const seen = new Set<string>();
  for (let proto = Object.getPrototypeOf(instance) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || seen.has(name)) continue;
      seen.add(name);
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value as ((...args: never[]) => unknown) | undefined;
      const declaration = method === undefined ? undefined : DECLARATIONS.get(method);
      if (method === undefined || declaration === undefined) continue;
      if (declaration.task in handlers) throw new TypeError(`two @job methods handle ${declaration.task}`);
      handlers[declaration.task] = (method as unknown as JobHandler).bind(instance);
      queues.add(declaration.queue);
    }
  }
  return { handlers, queues: [...queues] };
}
