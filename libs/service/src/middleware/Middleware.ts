import type { CallContext } from '../context.js';

/** The rest of the chain: calls the next middleware, and at the end the handler (or the wire). */
export type Next<C extends CallContext = CallContext> = (ctx: C, params: unknown) => Promise<unknown>;

/**
 * Wraps a call. The same shape serves both sides: around action handlers in a service
 * (`C` = ActionContext) and around outgoing calls in a ServiceClient (`C` = ClientCallContext).
 */
export type Middleware<C extends CallContext = CallContext> = (next: Next<C>) => Next<C>;

/** Middleware that works on either side, whatever the context carries beyond CallContext. */
export type AnyContextMiddleware = <C extends CallContext>(next: Next<C>) => Next<C>;

/** Builds one handler from a chain: the first middleware is the outermost. */
export function compose<C extends CallContext>(chain: readonly Middleware<C>[], handler: Next<C>): Next<C> {
  return chain.reduceRight<Next<C>>((next, middleware) => middleware(next), handler);
}

/**
 * Runs `run` with a signal that aborts when `parent` aborts or `abort(reason)` is called, and always
 * detaches from `parent` afterwards, so long-lived parents (a service's stop signal) do not collect listeners.
 */
export async function withChildSignal<T>(
  parent: AbortSignal,
  run: (signal: AbortSignal, abort: (reason: unknown) => void) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const forward = () => controller.abort(parent.reason);
  if (parent.aborted) forward();
  else parent.addEventListener('abort', forward, { once: true });
  try {
    return await run(controller.signal, (reason) => controller.abort(reason));
  } finally {
    parent.removeEventListener('abort', forward);
  }
}
