import { CorreioError, InternalError, newRequestId, UnavailableError } from '@correio/codec';
import type { AnyEnvelope } from '@correio/protocol';
import { RequestClient, type SocketOptions, type Stamp } from '@correio/transport';
import type { Logger } from 'pino';
import { pino } from 'pino';
import type { BackoffOptions } from './backoff.js';
import { ClockStamp } from './ClockStamp.js';
import type { CallOptions, ClientCallContext } from './context.js';
import { toMillis, type Duration } from './duration.js';
import { circuitBreaker, type CircuitBreakerMiddleware, type CircuitBreakerOptions, type CircuitSnapshot } from './middleware/circuitBreaker.js';
import { metrics as metricsMiddleware } from './middleware/metrics.js';
import { compose, type Middleware, type Next } from './middleware/Middleware.js';
import { retry } from './middleware/retry.js';
import { noMetrics, type MetricsRecorder } from './metrics/MetricsRecorder.js';
import { brokerServiceName, splitAction } from './names.js';
import { TIMEOUT_META } from './meta.js';

/** Action name → its params and result types, for typed calls. */
export type Contract = Record<string, { params: unknown; result: unknown }>;

/** The arguments after the action name: params may be left out when the action takes none. */
export type CallArgs<P> = undefined extends P ? [params?: P, options?: CallOptions] : [params: P, options?: CallOptions];

export interface ServiceClientOptions {
  /** The broker endpoint(s). */
  readonly broker: string | readonly string[];
  /** The sender id in every envelope (`from`). Defaults to `client-<pid>-<random>`. */
  readonly id?: string;
  /** Time for one attempt. Defaults to 5s. */
  readonly timeout?: Duration;
  /** Further attempts after a retryable failure, with the same request id. Defaults to 0. */
  readonly retries?: number;
  /** Delays between attempts. Defaults to 100ms doubling to 5s, with jitter. */
  readonly backoff?: BackoffOptions;
  /** Fail fast while a callee keeps failing (one circuit per action). Off unless given. */
  readonly circuitBreaker?: CircuitBreakerOptions;
  /** Middleware around each attempt, inside retry and the circuit breaker. */
  readonly middleware?: readonly Middleware<ClientCallContext>[];
  readonly logger?: Logger;
  readonly metrics?: MetricsRecorder;
  /** Stamps envelopes; a service passes its own, so one Lamport clock covers everything it sends. */
  readonly stamp?: Stamp;
  /** Socket options for the broker connection, such as CURVE keys. */
  readonly socket?: SocketOptions;
}

/**
 * Calls actions through the broker: `client.call('greeter.hello', { name: 'ana' }, { timeout: '2s', retries: 2 })`.
 * Results come back typed (with a Contract); failures are CorreioErrors with the code, message, data
 * and retryable flag the service sent. Retries reuse the request id, so a service can deduplicate.
 */
export class ServiceClient<C extends Contract = Contract> {
  readonly id: string;
  readonly #requests: RequestClient;
  readonly #timeout: number;
  readonly #retries: number;
  readonly #breaker: CircuitBreakerMiddleware | undefined;
  readonly #invoke: Next<ClientCallContext>;
  readonly #log: Logger;

  constructor(options: ServiceClientOptions) {
    const stamp = options.stamp ?? new ClockStamp(options.id ?? `client-${process.pid}-${newRequestId().slice(0, 8)}`);
    this.id = stamp.from;
    this.#log = options.logger ?? pino({ level: 'silent' });
    this.#timeout = toMillis(options.timeout ?? 5_000, 'timeout');
    this.#retries = options.retries ?? 0;
    if (!Number.isSafeInteger(this.#retries) || this.#retries < 0) throw new RangeError('retries must be a non-negative integer');
    this.#requests = new RequestClient({
      ...options.socket,
      endpoint: options.broker,
      stamp,
      timeout: this.#timeout,
      retries: 0, // retries are the retry middleware's, so they are visible to the chain
      logger: this.#log,
    });
    this.#breaker = options.circuitBreaker ? circuitBreaker(options.circuitBreaker) : undefined;
    const chain: Middleware<ClientCallContext>[] = [
      metricsMiddleware({ recorder: options.metrics ?? noMetrics, side: 'client' }),
      retry({
        ...(options.backoff ? { backoff: options.backoff } : {}),
        onRetry: (ctx, error, delay) => this.#log.debug({ action: ctx.action, id: ctx.id, attempt: ctx.attempt, code: error.code, delay }, 'retrying call'),
      }),
      ...(this.#breaker ? [this.#breaker] : []),
      ...(options.middleware ?? []),
    ];
    this.#invoke = compose(chain, (ctx, params) => this.#send(ctx, params));
  }

  /** Calls `action` and resolves with its result; rejects with a CorreioError. */
  async call<A extends keyof C & string>(action: A, ...args: CallArgs<C[A]['params']>): Promise<C[A]['result']> {
    const [params, options = {}] = args as [unknown, CallOptions | undefined];
    splitAction(action); // a malformed name fails here, typed, before anything is sent
    const timeout = options.timeout === undefined ? this.#timeout : toMillis(options.timeout, 'timeout');
    const retries = options.retries ?? this.#retries;
    const ctx: ClientCallContext = {
      action,
      id: options.id ?? newRequestId(),
      meta: options.meta ?? {},
      signal: options.signal ?? new AbortController().signal,
      attempt: 1,
      timeout,
      retries,
    };
    return (await this.#invoke(ctx, params)) as C[A]['result'];
  }

  /** The per-attempt timeout (ms) and retries calls get unless they say otherwise. */
  get defaults(): { readonly timeout: number; readonly retries: number } {
    return { timeout: this.#timeout, retries: this.#retries };
  }

  /** The client's circuits, when it has a circuit breaker. */
  circuits(): Record<string, CircuitSnapshot> {
    return this.#breaker?.circuits() ?? {};
  }

  /** The underlying transport client: its stats and socket events. */
  get transport(): RequestClient {
    return this.#requests;
  }

  /** Sends one request to a broker service and returns the reply envelope; for the framework's own messages. */
  request(...args: Parameters<RequestClient['request']>): Promise<AnyEnvelope> {
    return this.#requests.request(...args);
  }

  /** Closes the broker connection; calls in flight fail with UNAVAILABLE. */
  close(): Promise<void> {
    return this.#requests.close();
  }

  async #send(ctx: ClientCallContext, params: unknown): Promise<unknown> {
    const { service } = splitAction(ctx.action);
    // The callee learns how long this attempt waits, so it can give up when the caller has.
    const meta = { ...ctx.meta, [TIMEOUT_META]: String(ctx.timeout) };
    const body = { action: ctx.action, meta, ...(params === undefined ? {} : { params }) };
    let reply: AnyEnvelope;
    try {
      reply = await this.#requests.request(brokerServiceName(service), 'service.call.request', body as never, {
        id: ctx.id,
        timeout: ctx.timeout,
        retries: 0,
        signal: ctx.signal,
      });
    } catch (error) {
      if (!ctx.signal.aborted || error instanceof CorreioError) throw error;
      // Given up by the caller: its reason when typed (a parent's TIMEOUT), otherwise a plain statement of it.
      const reason: unknown = ctx.signal.reason;
      throw reason instanceof CorreioError
        ? reason
        : new UnavailableError(`${ctx.action}: the caller gave up the call`, { retryable: false, data: { aborted: true }, cause: reason });
    }
    if (reply.type !== 'service.call.reply') {
      throw new InternalError(`${ctx.action} was answered with ${reply.type}, not service.call.reply`, { retryable: false });
    }
    return reply.body.result;
  }
}

