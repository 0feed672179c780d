import { MESSAGE_INFO, type BodyOf, type MessageInfo, type MessageType } from '@correio/protocol';
import type { MessageContext } from './context.js';
import type { Duration } from './duration.js';
import type { BulkheadOptions } from './middleware/bulkhead.js';
import type { Middleware } from './middleware/Middleware.js';

/**
 * A protocol request type a service can serve with a typed handler, such as `chat.login.request`.
 * `service.call.request` and `service.emit.request` are the framework's own (actions and events).
 */
export type RequestType = Exclude<Extract<MessageType, `${string}.request`>, 'service.call.request' | 'service.emit.request'>;

/**
 * The reply type of a request type: `chat.login.request` → `chat.login.reply`. The protocol names
 * every reply this way; at run time the reply type comes from `MESSAGE_INFO[type].reply`.
 */
export type ReplyType<T extends RequestType> = T extends `${infer Base}.request` ? Extract<MessageType, `${Base}.reply`> : never;

/** The body a handler of `T` answers with. */
export type ReplyBody<T extends RequestType> = BodyOf<ReplyType<T>>;

export type MessageHandler<T extends RequestType = RequestType> = (ctx: MessageContext<T>, body: BodyOf<T>) => ReplyBody<T> | Promise<ReplyBody<T>>;

export interface MessageOptions<T extends RequestType = RequestType> {
  /** The longest one request may take; overrides the service's default. */
  readonly timeout?: Duration;
  /** Limits how many requests of this type run at once; over the limit → OVERLOADED. */
  readonly bulkhead?: BulkheadOptions;
  /** Middleware around this message type only, inside the service-wide chain. */
  readonly middleware?: readonly Middleware<MessageContext<T>>[];
  readonly description?: string;
}

export interface MessageDefinition<T extends RequestType = RequestType> extends MessageOptions<T> {
  // A method signature on purpose: bivariant parameters, so every definition fits the untyped table.
  handler(ctx: MessageContext<T>, body: BodyOf<T>): ReplyBody<T> | Promise<ReplyBody<T>>;
}

/**
 * Typed handlers of protocol requests, keyed by request type: a handler alone, or a definition with
 * options. The keys type each handler's body and reply.
 */
export type MessageHandlers = { readonly [T in RequestType]?: MessageHandler<T> | MessageDefinition<T> };

/** A handler or a definition, as a definition. */
export function toMessageDefinition(entry: MessageHandler | MessageDefinition): MessageDefinition {
  return typeof entry === 'function' ? { handler: entry } : entry;
}

/** Throws unless `type` is a protocol request type a service may handle (not the framework's own). */
export function assertRequestType(type: string): asserts type is RequestType {
  const info = (MESSAGE_INFO as Readonly<Record<string, MessageInfo | undefined>>)[type];
  if (info?.pattern !== 'request' || info.reply === undefined) {
    throw new TypeError(`${JSON.stringify(type)} is not a protocol request type; a message handler serves a type such as chat.login.request`);
  }
  if (type === 'service.call.request' || type === 'service.emit.request') {
    throw new TypeError(`${type} is served by the framework itself: declare @action or @on handlers instead`);
  }
}
