// A small in-memory chat server for the client's tests, so they do not depend on apps/server: a
// @correio/transport Worker serving the chat.* requests from maps, publishing chat.publication
// on chan/<channel>/ and chat.direct on user/<to>/ through the proxy, like the real one
// (protocol/schemas/v1/chat.*.json). Retries with a request id it has answered get the same reply.
// With `auth: 'password'` it holds accounts and hands out opaque tokens with short lifetimes, and
// refuses a request without a live token as servers in password mode do (UNAUTHENTICATED, with
// data.reason); it trusts the body user otherwise, as servers in open mode do.
import { randomBytes } from 'node:crypto';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError } from '@correio/codec';
import type {
  AnyEnvelope,
  ChatChannelsRequest,
  ChatConversationRequest,
  ChatDirect,
  ChatDirectRequest,
  ChatHistoryRequest,
  ChatPublication,
  ChatPublishRequest,
  ChatUsersRequest,
} from '@correio/protocol';
import { LamportStamp, Publisher, topic, Worker } from '@correio/transport';

export interface FakeChatServerOptions {
  readonly broker: string;
  /** The proxy's publisher (XSUB) side. */
  readonly proxyPub: string;
  readonly id?: string;
  /** Worker heartbeat, ms: short in tests that restart the broker. */
  readonly heartbeatInterval?: number;
  /** `password`: accounts and tokens are required. Default `open`. */
  readonly auth?: 'password' | 'open';
  /** Token lifetimes, ms. Defaults 15 min and 7 days. */
  readonly accessTtlMs?: number;
  readonly refreshTtlMs?: number;
  /** How far this server's clock runs ahead of the client's when it issues and checks tokens, ms. Default 0. */
  readonly clockAheadMs?: number;
}

interface IssuedToken {
  readonly user: string;
  readonly use: 'access' | 'refresh';
  readonly expiresAt: number;
  readonly issuedAt: number;
}

export class FakeChatServer {
  readonly id: string;
  readonly stamp: LamportStamp;
  readonly users = new Map<string, { first_seen: number; last_seen: number }>();
  readonly channels = new Map<string, { created_by: string; created_at: number }>();
  readonly publications = new Map<string, ChatPublication[]>();
  readonly directs: ChatDirect[] = [];
  /** Requests served per type (retries answered from the cache not counted). */
  readonly served = new Map<string, number>();
  /** Passwords of registered users (a fake: kept in the clear). */
  readonly accounts = new Map<string, string>();
  /** The auth of every request received, in order (undefined when absent). */
  readonly auths: (string | undefined)[] = [];
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #loggedOutAt = new Map<string, number>();
  readonly #options: FakeChatServerOptions;
  readonly #replies = new Map<string, object>();
  readonly #worker: Worker;
  readonly #publisher: Publisher;
  #seq = 0;

  constructor(options: FakeChatServerOptions) {
    this.id = options.id ?? 'fake-srv';
    this.#options = options;
    this.stamp = new LamportStamp(this.id);
    this.#publisher = new Publisher({ stamp: this.stamp, publisherId: `${this.id}~test` });
    this.#publisher.connect(options.proxyPub);
    this.#worker = new Worker({
      endpoint: options.broker,
      service: 'chat',
      concurrency: 4,
      stamp: this.stamp,
      heartbeatInterval: options.heartbeatInterval ?? 2_500,
      handler: (request) => this.#handle(request),
    });
  }

  start(): this {
    this.#worker.start();
    return this;
  }

  get publishedCount(): number {
    let count = 0;
    for (const list of this.publications.values()) count += list.length;
    return count;
  }

  /** Publishes a publication as if `user` had sent it through another server (for tests). */
  inject(channel: string, user: string, text: string): ChatPublication {
    return this.#publish({ user, channel, text });
  }

  async stop(): Promise<void> {
    await this.#worker.stop({ drainTimeout: 500 });
    await this.#publisher.close({ flushTimeout: 200 });
  }

  #handle(request: AnyEnvelope): object {
    this.auths.push(request.auth);
    const cached = this.#replies.get(request.id);
    if (cached) return cached;
    this.served.set(request.type, (this.served.get(request.type) ?? 0) + 1);
    const reply = this.#answer(this.#authenticate(request));
    this.#replies.set(request.id, reply);
    return reply;
  }

  /** The request with its body user taken from its token; throws as a server in password mode would. */
  #authenticate(request: AnyEnvelope): AnyEnvelope {
    if (['chat.register.request', 'chat.login.request', 'chat.refresh.request'].includes(request.type)) return request;
    if (request.auth === undefined) {
      if (this.#options.auth === 'password') throw new UnauthenticatedError(`${request.type} needs a token (envelope auth): log in first`, { data: { reason: 'missing' } });
      return request;
    }
    const user = this.#verify(request.auth, 'access');
    const body = request.body as { user?: string };
    if (body.user !== undefined && body.user !== user) throw new ForbiddenError(`the token is ${user}'s, not ${body.user}'s`);
    return { ...request, body: { ...body, user } } as AnyEnvelope;
  }

  #verify(token: string, use: 'access' | 'refresh'): string {
    const issued = this.#tokens.get(token);
    if (!issued) throw new UnauthenticatedError('the token does not verify: unknown token', { data: { reason: 'bad_signature' } });
    if (issued.use !== use) throw new UnauthenticatedError(`the token does not verify: a ${issued.use} token, not ${use}`, { data: { reason: 'wrong_use' } });
    if (Date.now() + (this.#options.clockAheadMs ?? 0) >= issued.expiresAt) throw new UnauthenticatedError('the token does not verify: expired', { data: { reason: 'expired' } });
    if (issued.issuedAt < (this.#loggedOutAt.get(issued.user) ?? 0)) throw new UnauthenticatedError('the token does not verify: revoked by a logout', { data: { reason: 'revoked' } });
    return issued.user;
  }

  #issue(user: string): { token: string; refresh_token: string; expires_at: number; refresh_expires_at: number } {
    const now = Date.now() + (this.#options.clockAheadMs ?? 0);
    const make = (use: 'access' | 'refresh', ttl: number): [string, number] => {
      const token = `${randomBytes(8).toString('base64url')}.${randomBytes(8).toString('base64url')}.${randomBytes(8).toString('base64url')}`;
      this.#tokens.set(token, { user, use, expiresAt: now + ttl, issuedAt: now });
      return [token, now + ttl];
    };
    const [token, expires_at] = make('access', this.#options.accessTtlMs ?? 15 * 60_000);
    const [refresh_token, refresh_expires_at] = make('refresh', this.#options.refreshTtlMs ?? 7 * 86_400_000);
    return { token, refresh_token, expires_at, refresh_expires_at };
  }

  #answer(request: AnyEnvelope): object {
    const now = Date.now();
    switch (request.type) {
      case 'chat.register.request': {
        const { user, password } = request.body as { user: string; password: string };
        if (this.accounts.has(user)) throw new ConflictError(`the user name ${user} is taken`);
        this.accounts.set(user, password);
        return { user, created_at: now };
      }
      case 'chat.login.request': {
        const { user, password } = request.body as { user: string; password?: string };
        if (this.#options.auth === 'password' && (password === undefined || this.accounts.get(user) !== password)) {
          throw new UnauthenticatedError('wrong user name or password', { data: { reason: 'password' } });
        }
        const known = this.users.get(user);
        const record = { first_seen: known?.first_seen ?? now, last_seen: now };
        this.users.set(user, record);
        return { user, ...record, created: known === undefined, ...this.#issue(user) };
      }
      case 'chat.refresh.request': {
        const { refresh_token } = request.body as { refresh_token: string };
        return this.#issue(this.#verify(refresh_token, 'refresh'));
      }
      case 'chat.password.request': {
        const { user, password, new_password } = request.body as { user: string; password: string; new_password: string };
        if (this.accounts.get(user) !== password) throw new UnauthenticatedError('wrong user name or password', { data: { reason: 'bad_password' } });
        this.accounts.set(user, new_password);
        // Every token issued before the change stops verifying, as the real server's credential check does.
        for (const [token, issued] of this.#tokens) if (issued.user === user) this.#tokens.delete(token);
        return { user, changed_at: now };
      }
      case 'chat.logout.request': {
        const { user } = request.body as { user: string };
        this.#loggedOutAt.set(user, now);
        return { user, revoked_before: now };
      }
      case 'chat.users.request': {
        const { limit = 100, after } = request.body as ChatUsersRequest;
        const names = [...this.users.keys()].sort().filter((name) => after === undefined || name > after);
        const page = names.slice(0, limit);
        return { users: page.map((user) => ({ user, ...this.users.get(user)! })), ...(names.length > limit ? { next: page.at(-1)! } : {}) };
      }
      case 'chat.channel.create.request': {
        const { user, channel } = request.body as { user: string; channel: string };
        const existing = this.channels.get(channel);
        if (existing) return { channel, created: false, ...existing };
        const record = { created_by: user, created_at: now };
        this.channels.set(channel, record);
        this.publications.set(channel, []);
        return { channel, created: true, ...record };
      }
      case 'chat.channels.request': {
        const { limit = 100, after } = request.body as ChatChannelsRequest;
        const names = [...this.channels.keys()].sort().filter((name) => after === undefined || name > after);
        const page = names.slice(0, limit);
        return { channels: page.map((channel) => ({ channel, ...this.channels.get(channel)! })), ...(names.length > limit ? { next: page.at(-1)! } : {}) };
      }
      case 'chat.publish.request': {
        const body = request.body as ChatPublishRequest & { user: string }; // this fake trusts the body user, as servers in open mode do
        if (!this.channels.has(body.channel)) throw new BadRequestError(`no channel ${body.channel}`);
        const publication = this.#publish(body);
        return { op: publication.op, channel: publication.channel, lc: publication.lc, ts: publication.ts };
      }
      case 'chat.direct.request': {
        const { user, to, text } = request.body as ChatDirectRequest & { user: string };
        const { lc, ts } = this.stamp.tick();
        const message: ChatDirect = { op: { origin: this.id, seq: ++this.#seq }, from: user, to, text, lc, hlc: [ts, 0], ts };
        this.directs.push(message);
        this.#publisher.publish(topic('user', to), 'chat.direct', message);
        return { op: message.op, to, lc, ts };
      }
      case 'chat.history.request': {
        const { channel, limit = 50, before } = request.body as ChatHistoryRequest;
        const all = this.publications.get(channel);
        if (!all) throw new NotFoundError(`no channel ${channel}`);
        return pageOf(all, limit, before);
      }
      case 'chat.conversation.request': {
        const { user, peer, limit = 50, before } = request.body as ChatConversationRequest;
        const all = this.directs.filter((m) => (m.from === user && m.to === peer) || (m.from === peer && m.to === user));
        return pageOf(all, limit, before);
      }
      default:
        throw new BadRequestError(`this fake server does not serve ${request.type}`);
    }
  }

  #publish(body: { user: string; channel: string; text: string }): ChatPublication {
    const { lc, ts } = this.stamp.tick();
    const publication: ChatPublication = { op: { origin: this.id, seq: ++this.#seq }, channel: body.channel, user: body.user, text: body.text, lc, hlc: [ts, 0], ts };
    this.publications.get(body.channel)?.push(publication);
    this.#publisher.publish(topic('chan', body.channel), 'chat.publication', publication);
    return publication;
  }
}

/** The newest page before the cursor (an index into `all`), oldest first, with the cursor of the page before it. */
function pageOf<T>(all: readonly T[], limit: number, before: string | undefined): { messages: T[]; next?: string } {
  const end = before === undefined ? all.length : Number(before);
  const start = Math.max(0, end - limit);
  return { messages: all.slice(start, end), ...(start > 0 ? { next: String(start) } : {}) };
}
