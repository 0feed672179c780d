import { BadRequestError, InternalError } from '@correio/codec';
import {
  MESSAGE_INFO,
  type BodyOf,
  type ChatChannelCreateReply,
  type ChatChannelsReply,
  type ChatConversationReply,
  type ChatDirect,
  type ChatDirectReply,
  type ChatHistoryReply,
  type ChatLoginReply,
  type ChatLogoutReply,
  type ChatPasswordReply,
  type ChatPublication,
  type ChatPublishReply,
  type ChatRefreshReply,
  type ChatRegisterReply,
  type ChatUsersReply,
  type MessageType,
} from '@correio/protocol';
import { ClockStamp } from '@correio/service';
import { chatServerFinder } from '@correio/discovery';
import {
  DirectRoute,
  RequestClient,
  Subscriber,
  TypedEvents,
  topic,
  type BackoffOptions,
  type Publication,
  type RequestOptions,
  type SubscriberStats,
  type RequestClientStats,
  type DirectRouteStats,
} from '@correio/transport';
import type { CurveClientKeySet } from '@correio/observability';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import { AuthTokens } from './AuthTokens.js';
import { channelNameProblem, passwordProblem, userNameProblem } from './names.js';
import { PeerLink } from './PeerLink.js';

export type ChannelInfo = ChatChannelsReply['channels'][number];
export type UserInfo = ChatUsersReply['users'][number];

export interface ChatClientOptions {
  /** The broker's MDP endpoint, such as tcp://127.0.0.1:5555. */
  readonly broker: string;
  /** The proxy's subscriber (XPUB) endpoint, such as tcp://127.0.0.1:5571. Without it nothing arrives live. */
  readonly proxy?: string;
  /** The broker service for chat requests. Default `chat`; `srv.<id>` talks to one server. */
  readonly service?: string;
  /** The `from` of every envelope this client sends. Default `client-<random>`, or the stamp's. */
  readonly from?: string;
  /** The client's Lamport clock; one is made when absent. */
  readonly stamp?: ClockStamp;
  /** Per-attempt request time-out, ms. Default 3000. */
  readonly timeout?: number;
  /** Attempts after the first, with the same request id, on time-outs and retryable errors. Default 3. */
  readonly retries?: number;
  /** Delay between attempts. Default 250 ms doubling to 4 s, with jitter. */
  readonly backoff?: BackoffOptions;
  /** CURVE keys of the broker and proxy sockets; plaintext when absent. */
  readonly curve?: CurveClientKeySet;
  /**
   * Send `chat` requests straight to the direct endpoint of one live server the reference server
   * lists (protocol revision 1.9) while connected there, through the broker otherwise. Default true
   * for the `chat` service without CURVE (servers open no direct endpoint with CURVE).
   */
  readonly direct?: boolean;
  /**
   * With `direct`: pick the server by this key (a channel the client mostly writes to) rather than
   * at random, so every client with the key writes through the same server, which commits and
   * replicates their writes in shared batches (chatServerFinder's `key`).
   */
  readonly routeKey?: string;
  readonly logger?: Logger;
}

/** Per-call options: a request id (to retry a call at the application level) and a cancel signal. */
export interface CallOptions {
  readonly id?: string;
  readonly signal?: AbortSignal;
  readonly timeout?: number;
  readonly retries?: number;
}

/** A login: with a password on servers in password mode, without one on servers in open mode. */
export interface LoginOptions extends CallOptions {
  readonly password?: string;
}

/** A page request: `limit` 1–500 (server default when absent) and the cursor of the previous page. */
export interface PageOptions extends CallOptions {
  readonly limit?: number;
}

/** A publication received live on `chan/<channel>/`. */
export interface ReceivedPublication {
  readonly publication: ChatPublication;
  readonly topic: string;
  /** The publishing server's stream id and the publication's sequence number in it. */
  readonly publisher: string;
  readonly seq: number;
}

/** A direct message received live on `user/<me>/`. */
export interface ReceivedDirect {
  readonly message: ChatDirect;
  readonly topic: string;
  readonly publisher: string;
  readonly seq: number;
}

/** Publications lost in transit (FRAMES.md §3.4), for the topic of one channel or one user. */
export interface ReceiveGap {
  readonly topic: string;
  /** Set when the topic is a channel's. */
  readonly channel?: string;
  /** Set when the topic is a user's (direct messages). */
  readonly user?: string;
  readonly publisher: string;
  readonly missed: number;
}

export interface ChatClientEventMap {
  publication: ReceivedPublication;
  direct: ReceivedDirect;
  gap: ReceiveGap;
  /** The broker connection went down or came back. */
  broker: { readonly up: boolean; readonly endpoint: string };
  /** The proxy connection went down or came back. */
  proxy: { readonly up: boolean; readonly endpoint: string };
}

export interface ChatClientStats {
  readonly requests: RequestClientStats;
  /** Where requests went: straight to a server or through the broker (absent when not direct). */
  readonly route?: DirectRouteStats;
  readonly subscriber?: SubscriberStats;
  /** Valid envelopes received live whose type is not one a chat topic carries (dropped). */
  readonly unexpected: number;
}

type ChatRequestType =
  | 'chat.register.request'
  | 'chat.login.request'
  | 'chat.refresh.request'
  | 'chat.logout.request'
  | 'chat.password.request'
  | 'chat.users.request'
  | 'chat.channel.create.request'
  | 'chat.channels.request'
  | 'chat.publish.request'
  | 'chat.direct.request'
  | 'chat.history.request'
  | 'chat.conversation.request';

interface ChatReplies {
  'chat.register.request': ChatRegisterReply;
  'chat.login.request': ChatLoginReply;
  'chat.refresh.request': ChatRefreshReply;
  'chat.logout.request': ChatLogoutReply;
  'chat.password.request': ChatPasswordReply;
  'chat.users.request': ChatUsersReply;
  'chat.channel.create.request': ChatChannelCreateReply;
  'chat.channels.request': ChatChannelsReply;
  'chat.publish.request': ChatPublishReply;
  'chat.direct.request': ChatDirectReply;
  'chat.history.request': ChatHistoryReply;
  'chat.conversation.request': ChatConversationReply;
}

/**
 * The least time a request that hashes a password (register, a login with a password, a password
 * change) is given: the hash is deliberately slow, and queues behind others on a busy server.
 */
const PASSWORD_CALL_TIMEOUT_MS = 15_000;

/** The requests that act as nobody yet: they carry no token. */
const ANONYMOUS: ReadonlySet<ChatRequestType> = new Set(['chat.register.request', 'chat.login.request', 'chat.refresh.request']);

/** Most pages `allUsers` / `allChannels` read, so a listing always ends. */
const MAX_PAGES = 100;

/**
 * A chat user's connection to Correio: requests go to the `chat` service through the broker
 * (MDP/0.2, retried with the same id and backoff), live messages come from the proxy
 * (`chan/<channel>/` publications, `user/<me>/` direct messages), and one Lamport clock ticks on
 * every send and merges every envelope and message received. The building block of the terminal
 * client, the JSON mode and the bot; other apps' tests use it as a real client.
 *
 * Identity (protocol 1.1): `register` creates an account, `login` (with its password on servers in
 * password mode) returns tokens, and every later request carries the access token as its
 * envelope's `auth`. The token is refreshed before it expires, and a request refused because it
 * had expired is sent again after a refresh (or a new login with the same password). `logout`
 * revokes every token of the user on every server.
 */
export class ChatClient {
  readonly events = new TypedEvents<ChatClientEventMap>();
  readonly stamp: ClockStamp;
  readonly service: string;
  readonly #requests: RequestClient;
  readonly #route: DirectRoute | undefined;
  /** Asks the reference server's list for the route, apart from the chat requests (and their stats). */
  readonly #routeAsker: RequestClient | undefined;
  readonly #subscriber: Subscriber | undefined;
  readonly #brokerLink: PeerLink;
  readonly #proxyLink: PeerLink | undefined;
  readonly #topics = new Set<string>();
  readonly #receiving: Promise<void>;
  readonly #auth: AuthTokens;
  readonly #passwordTimeout: number;
  #user: string | undefined;
  /** Kept to log in again once the refresh token is spent; undefined for open-mode logins. */
  #password: string | undefined;
  #unexpected = 0;
  #closed = false;

  constructor(options: ChatClientOptions) {
    this.stamp = options.stamp ?? new ClockStamp(options.from ?? `client-${randomBytes(6).toString('base64url')}`);
    this.service = options.service ?? 'chat';
    this.#passwordTimeout = Math.max(options.timeout ?? 3_000, PASSWORD_CALL_TIMEOUT_MS);
    this.#auth = new AuthTokens({
      refresh: (refreshToken) => this.#call('chat.refresh.request', { refresh_token: refreshToken }, {}),
      relogin: async () => this.#call('chat.login.request', this.#loginBody(this.#requireUser(), this.#password), this.#hashing({}, this.#password)),
    });
    this.#requests = new RequestClient({
      endpoint: options.broker,
      stamp: this.stamp,
      timeout: options.timeout ?? 3_000,
      retries: options.retries ?? 3,
      backoff: options.backoff ?? { initialMs: 250, maxMs: 4_000 },
      ...(options.curve ? { curve: options.curve.broker } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    if ((options.direct ?? true) && this.service === 'chat' && options.curve === undefined) {
      this.#routeAsker = new RequestClient({ endpoint: options.broker, stamp: this.stamp, ...(options.logger ? { logger: options.logger } : {}) });
      this.#route = new DirectRoute({ broker: this.#requests, brokerEndpoints: options.broker, service: this.service, find: chatServerFinder(this.#routeAsker, options.routeKey === undefined ? {} : { key: options.routeKey }), stamp: this.stamp });
    }
    this.#brokerLink = new PeerLink(options.broker, this.#requests.events, (up) => this.events.emit('broker', { up, endpoint: options.broker }), this.#requests.connected);
    if (options.proxy !== undefined) {
      this.#subscriber = new Subscriber({ stamp: this.stamp, ...(options.curve ? { curve: options.curve.proxy } : {}), ...(options.logger ? { logger: options.logger } : {}) });
      this.#proxyLink = new PeerLink(options.proxy, this.#subscriber.events, (up) => this.events.emit('proxy', { up, endpoint: options.proxy! }));
      this.#subscriber.events.on('gap', (gap) => this.events.emit('gap', { ...describeTopic(gap.topic), publisher: gap.publisher, missed: gap.missed }));
      this.#subscriber.connect(options.proxy);
      this.#receiving = this.#receive(this.#subscriber);
    } else {
      this.#receiving = Promise.resolve();
    }
  }

  /** The user this client logged in as, if any. */
  get user(): string | undefined {
    return this.#user;
  }

  /** The access token sent with every request, when the login handed one out. */
  get token(): string | undefined {
    return this.#auth.token;
  }

  /** When the access token expires (ms, the server's clock); undefined without one. */
  get tokenExpiresAt(): number | undefined {
    return this.#auth.expiresAt;
  }

  /** From when on the next request refreshes the tokens first (a little before tokenExpiresAt). */
  get tokenRefreshAt(): number | undefined {
    return this.#auth.refreshAt;
  }

  /** The client's Lamport clock: the latest value it sent or merged. */
  get lc(): number {
    return this.stamp.lc;
  }

  get brokerEndpoint(): string {
    return this.#brokerLink.endpoint;
  }

  get proxyEndpoint(): string | undefined {
    return this.#proxyLink?.endpoint;
  }

  get brokerConnected(): boolean {
    return this.#brokerLink.up;
  }

  /** False without a proxy endpoint. */
  get proxyConnected(): boolean {
    return this.#proxyLink?.up ?? false;
  }

  /** The topics subscribed to, such as `chan/general/` and `user/ana/`. */
  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  get stats(): ChatClientStats {
    return {
      requests: this.#requests.stats,
      ...(this.#route ? { route: this.#route.stats } : {}),
      ...(this.#subscriber ? { subscriber: this.#subscriber.stats } : {}),
      unexpected: this.#unexpected,
    };
  }

  /** Resolves true once connected to the broker, false after `timeoutMs`. */
  waitForBroker(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.#brokerLink.waitUp(timeoutMs, signal);
  }

  /** Resolves true once connected to the proxy, false after `timeoutMs` (at once without a proxy). */
  waitForProxy(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.#proxyLink ? this.#proxyLink.waitUp(timeoutMs, signal) : Promise.resolve(false);
  }

  /** Registers `user` with `password` (CONFLICT when the name is taken). Log in afterwards. */
  async register(user: string, password: string, options: CallOptions = {}): Promise<ChatRegisterReply> {
    requireValid(userNameProblem(user));
    requireValid(passwordProblem(password));
    return this.#call('chat.register.request', { user, password }, this.#hashing(options, password));
  }

  /**
   * Logs `user` in (with `options.password` on servers in password mode) and makes it this
   * client's user; its tokens go with every later request. Subscribes to the user's direct
   * messages first, so none sent right after the login is missed.
   */
  async login(user: string, options: LoginOptions = {}): Promise<ChatLoginReply> {
    requireValid(userNameProblem(user));
    if (options.password !== undefined) requireValid(passwordProblem(options.password));
    if (this.#subscriber) {
      if (this.#user !== undefined && this.#user !== user) this.unsubscribe(topic('user', this.#user));
      this.subscribe(topic('user', user));
    }
    const reply = await this.#call('chat.login.request', this.#loginBody(user, options.password), this.#hashing(options, options.password));
    this.#user = user;
    this.#password = options.password;
    this.#auth.set(reply);
    return reply;
  }

  /** Exchanges the refresh token for fresh tokens now (requests do it by themselves when due). */
  async refresh(options: CallOptions = {}): Promise<ChatRefreshReply> {
    const refreshToken = this.#auth.refreshToken;
    if (refreshToken === undefined) throw new BadRequestError('log in first: there is no refresh token');
    const reply = await this.#call('chat.refresh.request', { refresh_token: refreshToken }, options);
    this.#auth.set(reply);
    return reply;
  }

  /** Logs this client's user out everywhere: every token of the user issued until now stops verifying. */
  async logout(options: CallOptions = {}): Promise<ChatLogoutReply> {
    this.#requireUser();
    const reply = await this.#call('chat.logout.request', {}, options);
    this.#auth.clear();
    this.#password = undefined;
    return reply;
  }

  /** Changes the password; every older token stops verifying, so the client logs in again with the new one. */
  async changePassword(current: string, next: string, options: CallOptions = {}): Promise<ChatPasswordReply> {
    const user = this.#requireUser();
    requireValid(passwordProblem(next));
    const reply = await this.#call('chat.password.request', { password: current, new_password: next }, this.#hashing(options, next));
    this.#password = next;
    this.#auth.set(await this.#call('chat.login.request', this.#loginBody(user, next), this.#hashing({}, next)));
    return reply;
  }

  /** One page of users, in name order; `after` is the previous page's `next`. */
  async users(options: PageOptions & { readonly after?: string } = {}): Promise<ChatUsersReply> {
    return this.#call('chat.users.request', page(options, 'after'), options);
  }

  /** Every user, reading up to `maxPages` pages. */
  async allUsers(options: { readonly maxPages?: number } & CallOptions = {}): Promise<{ users: UserInfo[]; truncated: boolean }> {
    const users: UserInfo[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < (options.maxPages ?? MAX_PAGES); pages += 1) {
      const reply = await this.users({ ...callOnly(options), limit: 500, ...(after !== undefined ? { after } : {}) });
      users.push(...reply.users);
      if (reply.next === undefined) return { users, truncated: false };
      after = reply.next;
    }
    return { users, truncated: true };
  }

  /** One page of channels, in name order; `after` is the previous page's `next`. */
  async channels(options: PageOptions & { readonly after?: string } = {}): Promise<ChatChannelsReply> {
    return this.#call('chat.channels.request', page(options, 'after'), options);
  }

  /** Every channel, reading up to `maxPages` pages. */
  async allChannels(options: { readonly maxPages?: number } & CallOptions = {}): Promise<{ channels: ChannelInfo[]; truncated: boolean }> {
    const channels: ChannelInfo[] = [];
    let after: string | undefined;
    for (let pages = 0; pages < (options.maxPages ?? MAX_PAGES); pages += 1) {
      const reply = await this.channels({ ...callOnly(options), limit: 500, ...(after !== undefined ? { after } : {}) });
      channels.push(...reply.channels);
      if (reply.next === undefined) return { channels, truncated: false };
      after = reply.next;
    }
    return { channels, truncated: true };
  }

  /** Creates a channel as this client's user; creating one that exists answers `created: false`. */
  async createChannel(channel: string, options: CallOptions = {}): Promise<ChatChannelCreateReply> {
    requireValid(channelNameProblem(channel));
    return this.#call('chat.channel.create.request', { user: this.#requireUser(), channel }, options);
  }

  /** Publishes `text` on `channel` as this client's user. A retry with the same `id` publishes once. */
  async publish(channel: string, text: string, options: CallOptions = {}): Promise<ChatPublishReply> {
    requireValid(channelNameProblem(channel));
    return this.#call('chat.publish.request', { user: this.#requireUser(), channel, text }, options);
  }

  /** Sends a direct message to `to` as this client's user. A retry with the same `id` sends once. */
  async direct(to: string, text: string, options: CallOptions = {}): Promise<ChatDirectReply> {
    requireValid(userNameProblem(to));
    return this.#call('chat.direct.request', { user: this.#requireUser(), to, text }, options);
  }

  /** The latest page of a channel's publications (oldest first); `before` is the previous page's `next`. */
  async history(channel: string, options: PageOptions & { readonly before?: string } = {}): Promise<ChatHistoryReply> {
    requireValid(channelNameProblem(channel));
    const reply = await this.#call('chat.history.request', { channel, ...page(options, 'before') }, options);
    // Each stored publication carries its origin's clock: merge it like a received message.
    for (const publication of reply.messages) this.stamp.observe(publication);
    return reply;
  }

  /** The latest page of the conversation with `peer` (oldest first). */
  async conversation(peer: string, options: PageOptions & { readonly before?: string } = {}): Promise<ChatConversationReply> {
    requireValid(userNameProblem(peer));
    const reply = await this.#call('chat.conversation.request', { user: this.#requireUser(), peer, ...page(options, 'before') }, options);
    for (const message of reply.messages) this.stamp.observe(message);
    return reply;
  }

  /** Receives `channel`'s publications live (from the time the subscription reaches the publishers). */
  subscribeChannel(channel: string): void {
    requireValid(channelNameProblem(channel));
    this.subscribe(topic('chan', channel));
  }

  unsubscribeChannel(channel: string): void {
    requireValid(channelNameProblem(channel));
    this.unsubscribe(topic('chan', channel));
  }

  /** Subscribes to a topic prefix on the proxy (`chan/general/`, `user/ana/`, `chan/` for every channel). */
  subscribe(prefix: string): void {
    if (!this.#subscriber) throw new BadRequestError('this client has no proxy endpoint: it cannot receive messages live');
    if (this.#topics.has(prefix)) return;
    this.#subscriber.subscribe(prefix);
    this.#topics.add(prefix);
  }

  unsubscribe(prefix: string): void {
    if (!this.#subscriber || !this.#topics.delete(prefix)) return;
    this.#subscriber.unsubscribe(prefix);
  }

  /** Closes both sockets; requests in flight fail with UNAVAILABLE. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#brokerLink.dispose();
    this.#proxyLink?.dispose();
    await this.#route?.close();
    await Promise.all([this.#requests.close(), this.#routeAsker?.close(), this.#subscriber?.close()]);
    await this.#receiving;
  }

  /** Sends a request; one acting as the user carries the access token, and is sent again once if that had expired. */
  async #call<T extends ChatRequestType>(type: T, body: BodyOf<T>, options: CallOptions): Promise<ChatReplies[T]> {
    if (ANONYMOUS.has(type)) return this.#send(type, body, options, undefined);
    const token = await this.#auth.current();
    try {
      return await this.#send(type, body, options, token);
    } catch (error) {
      if (!(await this.#auth.renewAfter(error, token))) throw error;
      return this.#send(type, body, options, this.#auth.token);
    }
  }

  async #send<T extends ChatRequestType>(type: T, body: BodyOf<T>, options: CallOptions, auth: string | undefined): Promise<ChatReplies[T]> {
    const requestOptions: RequestOptions = {
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      ...(options.retries !== undefined ? { retries: options.retries } : {}),
      ...(auth !== undefined ? { auth } : {}),
    };
    const reply = await (this.#route ? this.#route.request(type, body, requestOptions) : this.#requests.request(this.service, type, body, requestOptions));
    const expected = MESSAGE_INFO[type].reply as MessageType;
    if (reply.type !== expected) throw new InternalError(`${type} was answered with ${reply.type}, not ${expected}`, { retryable: false });
    return reply.body as ChatReplies[T];
  }

  /** A call that makes the server hash `password` gets PASSWORD_CALL_TIMEOUT_MS at least, unless the caller chose. */
  #hashing<T extends CallOptions>(options: T, password: string | undefined): T {
    return password === undefined || options.timeout !== undefined ? options : { ...options, timeout: this.#passwordTimeout };
  }

  #loginBody(user: string, password: string | undefined): BodyOf<'chat.login.request'> {
    return password === undefined ? { user } : { user, password };
  }

  #requireUser(): string {
    if (this.#user === undefined) throw new BadRequestError('log in first');
    return this.#user;
  }

  async #receive(subscriber: Subscriber): Promise<void> {
    for await (const received of subscriber) this.#dispatch(received);
  }

  #dispatch(received: Publication): void {
    const { envelope, topic: where, publisher, seq } = received;
    if (envelope.type === 'chat.publication' && where.startsWith('chan/')) {
      const publication = envelope.body as ChatPublication;
      this.stamp.observe(publication);
      this.events.emit('publication', { publication, topic: where, publisher, seq });
    } else if (envelope.type === 'chat.direct' && where.startsWith('user/')) {
      const message = envelope.body as ChatDirect;
      this.stamp.observe(message);
      this.events.emit('direct', { message, topic: where, publisher, seq });
    } else {
      this.#unexpected += 1;
    }
  }
}

function requireValid(problem: string | undefined): void {
  if (problem !== undefined) throw new BadRequestError(problem);
}

function callOnly(options: CallOptions): CallOptions {
  return {
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
  };
}

function page<K extends 'after' | 'before'>(options: PageOptions & Partial<Record<K, string>>, cursor: K): { limit?: number } & Partial<Record<K, string>> {
  const body: { limit?: number } & Partial<Record<K, string>> = {};
  if (options.limit !== undefined) body.limit = options.limit;
  const value = options[cursor];
  if (value !== undefined) (body as Record<K, string>)[cursor] = value;
  return body;
}

/** The channel or user a chat topic is about. */
function describeTopic(where: string): { topic: string; channel?: string; user?: string } {
  const [namespace, name] = where.split('/');
  if (namespace === 'chan' && name) return { topic: where, channel: name };
  if (namespace === 'user' && name) return { topic: where, user: name };
  return { topic: where };
}
