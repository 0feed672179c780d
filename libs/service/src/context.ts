import type { BodyOf, Envelope, MessageType } from '@correio/protocol';
import type { Logger } from 'pino';
import type { Duration } from './duration.js';
import type { RequestType } from './messages.js';

/** Who a service instance is. */
export interface ServiceIdentity {
  readonly name: string;
  readonly version: number;
  /** Unique per process: `<name>-<random>` unless given. */
  readonly instance: string;
}

/** Options of one outgoing call. */
export interface CallOptions {
  /** Time for one attempt; defaults to the client's timeout. */
  readonly timeout?: Duration;
  /** Further attempts on a retryable error (same request id); defaults to the client's retries. */
  readonly retries?: number;
  /** Metadata for the callee (ctx.meta): string entries, such as tracing ids. */
  readonly meta?: Readonly<Record<string, string>>;
  /** Gives up the call (and its retries) when aborted. */
  readonly signal?: AbortSignal;
  /**
   * The request id; defaults to a fresh one. Reuse the id of an earlier call to retry it at the
   * application level: the service answers a retry it has seen with the first outcome.
   */
  readonly id?: string;
}

/** What an emit achieved: the service groups that handled the event and those that did not. */
export interface EmitReport {
  readonly event: string;
  readonly delivered: readonly string[];
  readonly failed: readonly { readonly group: string; readonly error: Error }[];
}

/** Outgoing messaging available to every handler. The framework stamps envelopes and keeps the Lamport clock. */
export interface Messaging {
  /** Calls an action such as `users.get` through the broker. */
  call<R = unknown>(action: string, params?: unknown, options?: CallOptions): Promise<R>;
  /** Delivers an event to ONE instance of each service that handles it. */
  emit(event: string, data?: unknown, options?: CallOptions): Promise<EmitReport>;
  /**
   * Delivers an event to EVERY instance that handles it, through the proxy (or, with `group`, to
   * every instance of that one service). Fire and forget: loss shows up as a sequence gap.
   */
  broadcast(event: string, data?: unknown, options?: { readonly group?: string }): Promise<void>;
  /**
   * Publishes a protocol event envelope of `type` on a proxy topic (such as `chat.publication` on
   * `chan/general/`), numbered per topic; returns its sequence number. Fire and forget, like broadcast.
   */
  publish<T extends MessageType>(topic: string, type: T, body: BodyOf<T>): number;
}

/** What every middleware sees: enough to key, time and cancel a call. */
export interface CallContext {
  /** The action, such as `greeter.hello`. */
  readonly action: string;
  /** The request id; retries of a call reuse it. */
  readonly id: string;
  readonly meta: Readonly<Record<string, string>>;
  /** Aborted when the call is given up: timeout, caller gone, service stopping. */
  readonly signal: AbortSignal;
}

/** The context of a handler: identity, logging, messaging and the stop signal. */
export interface HandlerContext extends Messaging {
  readonly service: ServiceIdentity;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/** The context of an action invocation, on the serving side. */
export interface ActionContext extends HandlerContext, CallContext {
  /** The caller's node id (envelope `from`). */
  readonly caller: string;
  /** The request's Lamport clock value and physical time (envelope `lc`, `ts`). */
  readonly lc: number;
  readonly ts: number;
  /** Local time (Date.now()) by which the caller stops waiting, when it said so. */
  readonly deadline: number | undefined;
}

/**
 * The context of a typed protocol request (`@handles('chat.login.request')`). It is an ActionContext
 * whose `action` is the request type, so service-wide middleware (logging, metrics, deduplication,
 * bulkheads, timeouts) serves messages and actions alike.
 */
export interface MessageContext<T extends RequestType = RequestType> extends ActionContext {
  /** The request type, such as `chat.login.request` (also in `action`). */
  readonly type: T;
  /** The broker service the request came through, such as `chat` or `srv.s1`. */
  readonly via: string;
  /** The request as it arrived. */
  readonly envelope: Envelope<T>;
}

/** The context of a call on the client side, as the client middleware sees it. */
export interface ClientCallContext extends CallContext {
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Milliseconds for one attempt. */
  readonly timeout: number;
  /** Further attempts allowed after the first. */
  readonly retries: number;
}

/** The context of one run of a background task. */
export interface TaskContext extends HandlerContext {
  readonly task: string;
  /** 1 for the first run, +1 for each run or restart. */
  readonly run: number;
}

/** How an event reached this instance. */
export type EventDelivery = 'emit' | 'broadcast';

/** An event, as its handler receives it. */
export interface ServiceEvent<D = unknown> {
  readonly name: string;
  readonly data: D;
  /** The emitting instance. */
  readonly sender: string;
  /** The group it was addressed to (emit), absent for a broadcast to all. */
  readonly group: string | undefined;
  readonly delivery: EventDelivery;
  /** The message id, Lamport clock value and physical time. */
  readonly id: string;
  readonly lc: number;
  readonly ts: number;
}

/** The context of an event handler. */
export type EventContext = HandlerContext;
