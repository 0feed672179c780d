import { CorreioError } from '@correio/codec';
import type { ChatDirect, ChatPublication } from '@correio/protocol';
import { topic } from '@correio/transport';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { COMPONENT_SCHEMAS } from '../generated/protocolSchemas.js';
import { tokenClaims } from '../http/bearer.js';
import type { Upstream } from '../Upstream.js';
import { HistoryFeed, type FeedStart, type HistoryPage, type HistoryReader, type ResumePoint } from './HistoryFeed.js';
import { CLOSE } from './closeCodes.js';
import { GuardedSocket } from './GuardedSocket.js';
import type { OpId } from './opOrder.js';
import type { TopicHub } from './TopicHub.js';

export interface StreamLimits {
  readonly authTimeoutMs: number;
  readonly maxChannels: number;
  /** Bytes queued on a socket before it is closed as too slow. */
  readonly maxBufferedBytes: number;
  /** Messages a socket may send per second (a burst of this many, refilled every second). */
  readonly messagesPerSecond: number;
  readonly maxResumePages: number;
  /** See HistoryFeedOptions.windowMs. */
  readonly resumeWindowMs: number;
  /** See HistoryFeedOptions.settleMs. */
  readonly settleMs: number;
}

export interface StreamContext {
  readonly hub: TopicHub;
  readonly upstream: Upstream;
  /** open: a socket may name its user without a token (clusters whose servers run --auth open). */
  readonly auth: 'password' | 'open';
  readonly limits: StreamLimits;
  readonly counters: { delivered(kind: 'publication' | 'direct', replayed: boolean): void; closed(code: number): void };
  readonly logger: Logger;
}

/** Messages a socket may send after its auth message and before `ready`. */
const MAX_EARLY = 16;

/** History pages read by a stream: the protocol's largest. */
const PAGE = 500;
const pattern = (name: string) => new RegExp(String(COMPONENT_SCHEMAS[name]?.['pattern']));
const CHANNEL_NAME = pattern('channelName');
const USER_NAME = pattern('userName');
const NODE_ID = pattern('nodeId');

/** A live event's frame, serialised once for every socket that gets it (the hub hands them all the same object). */
const liveFrames = new WeakMap<object, string>();

function liveFrame(event: object, frame: () => Record<string, unknown>): string {
  let text = liveFrames.get(event);
  if (text === undefined) {
    text = JSON.stringify(frame());
    liveFrames.set(event, text);
  }
  return text;
}

/**
 * One WebSocket on /v1/stream. The first message authenticates (`{type: "auth", token}`, or
 * `{type: "auth", user}` in open mode); then `subscribe`/`unsubscribe` channels, each with an
 * optional `after` op id to resume from. The user's direct messages come without asking.
 */
export class StreamConnection {
  readonly #socket: GuardedSocket;
  readonly #context: StreamContext;
  readonly #feeds = new Map<string, { feed: HistoryFeed<ChatPublication>; leave: () => void }>();
  #direct: { feed: HistoryFeed<ChatDirect>; leave: () => void } | undefined;
  #user: string | undefined;
  #token: string | undefined;
  #authenticating = false;
  /** Messages that came while the auth message was being checked: handled once it is (a client need not wait for `ready`). */
  readonly #early: Record<string, unknown>[] = [];

  constructor(socket: WebSocket, context: StreamContext) {
    this.#context = context;
    const { maxBufferedBytes, messagesPerSecond, authTimeoutMs } = context.limits;
    this.#socket = new GuardedSocket(socket, { maxBufferedBytes, messagesPerSecond, counters: context.counters }, { message: (message) => this.#receive(message), closed: () => this.#dispose() });
    this.#socket.later(authTimeoutMs, () => this.#user === undefined && this.close(CLOSE.unauthenticated, 'no auth message in time'));
  }

  get user(): string | undefined {
    return this.#user;
  }

  /** Closes the socket with `code` (the client reconnects and resumes on 1012, 4401, 4408). */
  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
  }

  #receive(message: Record<string, unknown>): void {
    if (this.#user === undefined) {
      if (this.#authenticating && message['type'] !== 'auth') {
        // Bounded by the message rate limit, and by this cap.
        if (this.#early.length >= MAX_EARLY) return this.close(CLOSE.tooMany, 'too many messages before ready');
        this.#early.push(message);
        return;
      }
      if (message['type'] !== 'auth' || this.#authenticating) return this.close(CLOSE.unauthenticated, 'the first message must be {"type":"auth",...}');
      // Its rejection would end the gateway (an unhandled rejection): a failure ends this socket only.
      this.#authenticate(message).catch(() => this.close(CLOSE.internalError, 'the gateway could not complete the authentication'));
      return;
    }
    this.#handle(message);
  }

  #handle(message: Record<string, unknown>): void {
    switch (message['type']) {
      case 'subscribe':
        return this.#subscribe(message);
      case 'unsubscribe':
        return this.#unsubscribe(message);
      case 'ping':
        return this.#send({ type: 'pong' });
      default:
        return this.close(CLOSE.badMessage, `unknown message type ${JSON.stringify(String(message['type'])).slice(0, 40)}`);
    }
  }

  async #authenticate(message: Record<string, unknown>): Promise<void> {
    this.#authenticating = true;
    const { token, user, after } = message;
    const resumeFrom = after === undefined ? undefined : resumePoint(after);
    if (after !== undefined && resumeFrom === undefined) return this.close(CLOSE.badMessage, `after must be an op id or an array of them (one per origin, at most ${MAX_ORIGINS})`);
    let name: string;
    let expiresAt: number | undefined;
    if (typeof token === 'string') {
      const claims = tokenClaims(token);
      if (claims?.sub === undefined || !USER_NAME.test(claims.sub)) return this.close(CLOSE.unauthenticated, 'the token is not a Correio access token');
      name = claims.sub;
      expiresAt = claims.exp;
      this.#token = token;
    } else if (this.#context.auth === 'open' && typeof user === 'string' && USER_NAME.test(user)) {
      name = user;
    } else {
      return this.close(CLOSE.unauthenticated, this.#context.auth === 'open' ? 'auth needs a token or a valid user name' : 'auth needs a token');
    }
    // The user's direct messages: join the topic first, then read the inbox. That read carries the
    // token, so it is also the token's check (the servers hold the keys, the gateway none).
    const readInbox: HistoryReader<ChatDirect> = (page) =>
      (this.#context.upstream.call('chat', 'chat.inbox.request', { ...(this.#token === undefined ? { user: name } : {}), ...page }, this.#auth()) as Promise<HistoryPage<ChatDirect>>).catch(
        (error: unknown) => {
          // A user this server does not know (yet) has no direct messages on it.
          if (CorreioError.from(error).code === 'NOT_FOUND') return { messages: [] };
          throw error;
        },
      );
    const feed = this.#feed(readInbox, (direct, replayed) => {
      this.#context.counters.delivered('direct', replayed);
      this.#send(replayed ? { type: 'direct', replayed, message: direct } : liveFrame(direct, () => ({ type: 'direct', message: direct })));
    });
    const leave = this.#context.hub.join(topic('user', name), {
      publication: ({ envelope }) => envelope.type === 'chat.direct' && feed.live(envelope.body as ChatDirect),
      lost: () => feed.recover(),
    });
    this.#direct = { feed, leave };
    let start: FeedStart;
    try {
      start = await feed.start(resumeFrom);
    } catch (error) {
      const failure = CorreioError.from(error);
      return this.close(failure.retryable ? 1013 : CLOSE.unauthenticated, failure.message.slice(0, 100));
    }
    if (this.#socket.closed) return;
    this.#user = name;
    if (expiresAt !== undefined) this.#closeAt(expiresAt * 1000, CLOSE.unauthenticated, 'the token expired: refresh and reconnect');
    this.#send({ type: 'ready', user: name, ...start });
    for (const early of this.#early.splice(0)) if (!this.#socket.closed) this.#handle(early);
  }

  /** A feed of one history for this socket, with the stream's limits. */
  #feed<T extends ChatPublication | ChatDirect>(readHistory: HistoryReader<T>, deliver: (item: T, replayed: boolean) => void, channel?: string): HistoryFeed<T> {
    const { maxResumePages, resumeWindowMs, settleMs } = this.#context.limits;
    return new HistoryFeed<T>({
      readHistory,
      deliver,
      failed: (error) => this.#send({ type: 'error', ...(channel !== undefined ? { channel } : {}), ...CorreioError.from(error).toWire() }),
      page: PAGE,
      maxResumePages,
      windowMs: resumeWindowMs,
      settleMs,
    });
  }

  #subscribe(message: Record<string, unknown>): void {
    const { channel, after } = message;
    if (typeof channel !== 'string' || !CHANNEL_NAME.test(channel)) {
      return this.#send({ type: 'error', code: 'VALIDATION', ...(typeof channel === 'string' ? { channel: channel.slice(0, 64) } : {}), message: 'subscribe needs a valid channel name' });
    }
    const resumeFrom = after === undefined ? undefined : resumePoint(after);
    if (after !== undefined && resumeFrom === undefined) {
      return this.#send({ type: 'error', code: 'VALIDATION', channel, message: `after must be an op id {origin, seq}, or an array of them (one per origin, at most ${MAX_ORIGINS})` });
    }
    if (this.#feeds.has(channel)) return this.#send({ type: 'error', code: 'CONFLICT', channel, message: 'already subscribed' });
    if (this.#feeds.size >= this.#context.limits.maxChannels) return this.close(CLOSE.tooMany, 'too many channels on one socket');
    const readHistory: HistoryReader<ChatPublication> = (page) =>
      this.#context.upstream.call('chat', 'chat.history.request', { channel, ...page }, this.#auth()) as Promise<HistoryPage<ChatPublication>>;
    const feed = this.#feed(
      readHistory,
      (publication, replayed) => {
        this.#context.counters.delivered('publication', replayed);
        this.#send(replayed ? { type: 'publication', channel, replayed, publication } : liveFrame(publication, () => ({ type: 'publication', channel, publication })));
      },
      channel,
    );
    // Join the topic first, so nothing published during the history read is missed (FRAMES.md §3.6).
    const leave = this.#context.hub.join(topic('chan', channel), {
      publication: ({ envelope }) => envelope.type === 'chat.publication' && feed.live(envelope.body as ChatPublication),
      lost: () => feed.recover(),
    });
    this.#feeds.set(channel, { feed, leave });
    feed.start(resumeFrom).then(
      (start) => this.#send({ type: 'subscribed', channel, ...start }),
      (error: unknown) => {
        this.#dropFeed(channel);
        this.#send({ type: 'error', channel, ...CorreioError.from(error).toWire() });
      },
    );
  }

  #unsubscribe(message: Record<string, unknown>): void {
    const channel = message['channel'];
    if (typeof channel !== 'string' || !this.#feeds.has(channel)) return this.#send({ type: 'error', code: 'NOT_FOUND', message: 'not subscribed to that channel' });
    this.#dropFeed(channel);
    this.#send({ type: 'unsubscribed', channel });
  }

  #auth(): { auth?: string } {
    return this.#token !== undefined ? { auth: this.#token } : {};
  }

  #send(message: Record<string, unknown> | string): void {
    this.#socket.send(message);
  }

  #closeAt(whenMs: number, code: number, reason: string): void {
    this.#socket.later(whenMs - Date.now(), () => this.close(code, reason));
  }

  #dropFeed(channel: string): void {
    const entry = this.#feeds.get(channel);
    if (!entry) return;
    this.#feeds.delete(channel);
    entry.feed.close();
    entry.leave();
  }

  #dispose(): void {
    for (const channel of [...this.#feeds.keys()]) this.#dropFeed(channel);
    this.#direct?.feed.close();
    this.#direct?.leave();
    this.#direct = undefined;
  }
}

/** Origins a resume point may name: far more servers than a cluster has. */
const MAX_ORIGINS = 64;

function resumePoint(value: unknown): ResumePoint | undefined {
  if (!Array.isArray(value)) return opId(value);
  if (value.length === 0 || value.length > MAX_ORIGINS) return undefined;
  const ops = value.map(opId);
  if (ops.some((op) => op === undefined) || new Set(ops.map((op) => op!.origin)).size !== ops.length) return undefined;
  return ops as OpId[];
}

function opId(value: unknown): OpId | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { origin, seq } = value as Record<string, unknown>;
  if (typeof origin !== 'string' || !NODE_ID.test(origin) || !Number.isSafeInteger(seq) || (seq as number) < 1) return undefined;
  return { origin, seq: seq as number };
}
