// A small in-memory chat server for the client's tests, so they do not depend on apps/server: a
// @correio/transport Worker serving the chat.* requests from maps, publishing chat.publication
// on chan/<channel>/ and chat.direct on user/<to>/ through the proxy, like the real one
// (protocol/schemas/v1/chat.*.json). Retries with a request id it has answered get the same reply.
import { BadRequestError, NotFoundError } from '@correio/codec';
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
  readonly #replies = new Map<string, object>();
  readonly #worker: Worker;
  readonly #publisher: Publisher;
  #seq = 0;

  constructor(options: FakeChatServerOptions) {
    this.id = options.id ?? 'fake-srv';
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
    const cached = this.#replies.get(request.id);
    if (cached) return cached;
    this.served.set(request.type, (this.served.get(request.type) ?? 0) + 1);
    const reply = this.#answer(request);
    this.#replies.set(request.id, reply);
    return reply;
  }

  #answer(request: AnyEnvelope): object {
    const now = Date.now();
    switch (request.type) {
      case 'chat.login.request': {
        const { user } = request.body as { user: string };
        const known = this.users.get(user);
        const record = { first_seen: known?.first_seen ?? now, last_seen: now };
        this.users.set(user, record);
        return { user, ...record, created: known === undefined };
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
