import { BadRequestError, ConflictError, NotFoundError } from '@correio/codec';
import { hashPassword } from '@correio/identity';
import { traceWrite } from '@correio/observability';
import type { BodyOf, Operation } from '@correio/protocol';
import { handles, type MessageContext, type ReplyBody } from '@correio/service';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { OperationClock, OperationData } from './OperationClock.js';
import type { OperationFanout } from './OperationFanout.js';
import type { Authenticator } from './auth/Authenticator.js';
import type { ChatStore, Committed, Page } from './store/ChatStore.js';
import { compareOrder, orderOf, type OrderKey } from './store/order.js';

export interface ChatServerOptions {
  /** This server's id: the origin of every operation it commits. */
  readonly id: string;
  readonly store: ChatStore;
  readonly clock: OperationClock;
  readonly fanout: OperationFanout;
  /** Page size when a request gives no limit. */
  readonly pageSize: number;
  /** Who each request acts for, password checks and tokens. */
  readonly auth: Authenticator;
  /**
   * Runs once a write is committed and announced, before its reply (for a retry too): the "wait
   * for k peers" acknowledgement policy. A rejection fails the request; the write stays stored.
   */
  readonly confirm?: (op: Operation) => Promise<void>;
  /** With `confirm`: start it while the operation commits here, when the store's fence allows (default false: once durable). */
  readonly sendAhead?: boolean;
  /**
   * Told when a commit failed after its operation was sent ahead to peers (see `sendAhead`): the
   * server must learn its own operations back from them before it commits again.
   */
  readonly onSendAheadLost?: () => void;
}

/** What the handlers count, for metrics and health. */
export interface ChatServerCounters {
  /** Operations committed by this process, by kind. */
  readonly committed: Record<string, number>;
  /** Requests answered from an operation committed earlier under the same request id. */
  deduplicated: number;
  /** Events re-announced for retries of operations a previous run of this server committed. */
  reannounced: number;
}

type Kind = Operation['kind'];

/** Retries of a previous run's operations re-announced at most once each; this bounds the memory. */
const REANNOUNCED_REMEMBERED = 10_000;

/**
 * The chat protocol's request handlers (protocol/schemas/v1/chat.*.request.json). Every state
 * change is one Operation committed through the store with this server as origin and the request
 * id as `rid`; the reply goes out only once the operation is durable, and it is announced on the
 * proxy before the reply. Reads come from this server's store alone.
 *
 * Error policy: a malformed request never gets here (the codec answers DECODE, VALIDATION, …).
 * Writes that name a user this server does not know, or publish to a channel it does not know,
 * are BAD_REQUEST (the request is well formed, but not acceptable; `data.reason` says which:
 * `unknown_user`, `unknown_channel`); a login or a channel created on another server is known here
 * after the replication delay (read-your-writes holds on the server written to). Reads of a
 * channel or conversation partner that does not exist are NOT_FOUND. A request id reused for a different request is CONFLICT.
 */
export class ChatServer {
  readonly counters: ChatServerCounters = { committed: {}, deduplicated: 0, reannounced: 0 };
  readonly #id: string;
  readonly #store: ChatStore;
  readonly #clock: OperationClock;
  readonly #fanout: OperationFanout;
  #pageSize: number;
  readonly #auth: Authenticator;
  readonly #confirm: ((op: Operation) => Promise<void>) | undefined;
  readonly #sendAhead: boolean;
  readonly #onSendAheadLost: (() => void) | undefined;
  /**
   * The first own operation this run committed: those before it come from earlier runs (committed
   * there, or learnt back from peers), and whether they were announced is unknown.
   */
  #firstCommittedThisRun = Number.POSITIVE_INFINITY;
  readonly #reannounced = new Set<number>();

  constructor(options: ChatServerOptions) {
    this.#id = options.id;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#fanout = options.fanout;
    this.#pageSize = options.pageSize;
    this.#auth = options.auth;
    this.#confirm = options.confirm;
    this.#sendAhead = options.sendAhead ?? false;
    this.#onSendAheadLost = options.onSendAheadLost;
  }

  /** Page size when a request gives no limit; the configuration service may change it while the server runs. */
  set pageSize(size: number) {
    this.#pageSize = size;
  }

  @handles('chat.register.request')
  async register(ctx: MessageContext<'chat.register.request'>, body: BodyOf<'chat.register.request'>): Promise<ReplyBody<'chat.register.request'>> {
    // A retry of a registration already committed (same request id) gets its reply back, unhashed.
    const earlier = this.#store.committedFor(ctx.id);
    if (earlier === undefined) this.#refuseTaken(body.user); // before the deliberately slow hash
    const hash = earlier?.kind === 'register' ? earlier.data.hash : await hashPassword(body.password);
    const refuse = () => {
      this.#refuseTaken(body.user);
      return true;
    };
    // A retry (same request id) hashes again with a new salt: it is the same request if it names the same user.
    const { op } = (await this.#commit(ctx, 'register', { user: body.user, hash }, refuse, (stored) => stored.user === body.user))!;
    return { user: body.user, created_at: op.hlc[0] };
  }

  @handles('chat.login.request')
  async login(ctx: MessageContext<'chat.login.request'>, body: BodyOf<'chat.login.request'>): Promise<ReplyBody<'chat.login.request'>> {
    const cred = await this.#auth.checkLogin(body.user, body.password);
    const { op } = (await this.#commit(ctx, 'login', { user: body.user }))!;
    const user = this.#store.user(body.user)!;
    const tokens = await this.#auth.issue(body.user, cred, { id: `${op.op.origin}:${op.op.seq}`, at: op.hlc[0] });
    // Answered from the operation, so a retry gets the same reply as the first attempt, tokens included.
    return { user: body.user, first_seen: user.first_seen, last_seen: op.hlc[0], created: compareOrder(user.first_login, orderOf(op)) === 0, ...tokens };
  }

  @handles('chat.refresh.request')
  async refresh(_ctx: MessageContext<'chat.refresh.request'>, body: BodyOf<'chat.refresh.request'>): Promise<ReplyBody<'chat.refresh.request'>> {
    const claims = await this.#auth.verify(body.refresh_token, 'refresh');
    return this.#auth.issue(claims.sub, claims.cred);
  }

  @handles('chat.whoami.request')
  async whoami(ctx: MessageContext<'chat.whoami.request'>): Promise<ReplyBody<'chat.whoami.request'>> {
    const claims = await this.#auth.tokenClaims(ctx.envelope.auth);
    // Only the roles the protocol knows (defs.json `role`): a token signed by a newer server may name more.
    return { user: claims.sub, roles: claims.roles.includes('operator') ? ['operator'] : [], expires_at: claims.exp * 1000 };
  }

  @handles('chat.logout.request')
  async logout(ctx: MessageContext<'chat.logout.request'>): Promise<ReplyBody<'chat.logout.request'>> {
    const earlier = await this.#auth.retryOf(ctx.id, ctx.envelope.auth, 'logout', this.#store.committedFor(ctx.id));
    if (earlier?.kind === 'logout') return { user: earlier.data.user, revoked_before: earlier.hlc[0] };
    const user = await this.#auth.actingUser(ctx.envelope.auth, undefined, true);
    const { op } = (await this.#commit(ctx, 'logout', { user }))!;
    return { user, revoked_before: op.hlc[0] };
  }

  @handles('chat.password.request')
  async password(ctx: MessageContext<'chat.password.request'>, body: BodyOf<'chat.password.request'>): Promise<ReplyBody<'chat.password.request'>> {
    const earlier = await this.#auth.retryOf(ctx.id, ctx.envelope.auth, 'password', this.#store.committedFor(ctx.id));
    if (earlier?.kind === 'password') return { user: earlier.data.user, changed_at: earlier.hlc[0] };
    const user = await this.#auth.actingUser(ctx.envelope.auth, undefined, true);
    await this.#auth.checkPassword(user, body.password);
    const cred = this.#store.account(user)?.cred;
    if (cred === undefined) throw new BadRequestError(`${user} is not registered: register first (chat.register.request)`, { data: { user, reason: 'not_registered' } });
    const hash = await hashPassword(body.new_password);
    const under = opIdOf(cred);
    const unchanged = () => {
      // Checked again inside the commit: a change made meanwhile (here or replicated) wins.
      if (this.#store.account(user)?.cred !== cred) throw new ConflictError('the password was changed meanwhile; log in again', { data: { user, reason: 'credential_changed' } });
      return true;
    };
    const { op } = (await this.#commit(ctx, 'password', { user, hash, under }, unchanged, (stored) => stored.user === user))!;
    return { user, changed_at: op.hlc[0] };
  }

  @handles('chat.users.request')
  async users(ctx: MessageContext<'chat.users.request'>, body: BodyOf<'chat.users.request'>): Promise<ReplyBody<'chat.users.request'>> {
    await this.#auth.authorizeRead(ctx.envelope.auth);
    const page = this.#store.users(body.limit ?? this.#pageSize, body.after);
    const users = page.items.map(({ user, first_seen, last_seen }) => ({ user, first_seen, last_seen }));
    return page.next === undefined ? { users } : { users, next: page.next as string };
  }

  @handles('chat.channel.create.request')
  async createChannel(ctx: MessageContext<'chat.channel.create.request'>, body: BodyOf<'chat.channel.create.request'>): Promise<ReplyBody<'chat.channel.create.request'>> {
    const user = await this.#auth.actingUser(ctx.envelope.auth, body.user);
    const committed = await this.#commit(ctx, 'channel.create', { user, channel: body.channel }, () => {
      this.#requireUser(user);
      // Creating a channel that exists changes nothing: no operation, created false.
      return this.#store.channel(body.channel) === undefined;
    });
    const channel = this.#store.channel(body.channel)!;
    const created = committed !== undefined && compareOrder(channel.order, orderOf(committed.op)) === 0;
    return { channel: channel.channel, created, created_by: channel.created_by, created_at: channel.created_at };
  }

  @handles('chat.channels.request')
  async channels(ctx: MessageContext<'chat.channels.request'>, body: BodyOf<'chat.channels.request'>): Promise<ReplyBody<'chat.channels.request'>> {
    await this.#auth.authorizeRead(ctx.envelope.auth);
    const page = this.#store.channels(body.limit ?? this.#pageSize, body.after);
    const channels = page.items.map(({ channel, created_by, created_at }) => ({ channel, created_by, created_at }));
    return page.next === undefined ? { channels } : { channels, next: page.next as string };
  }

  @handles('chat.publish.request')
  async publish(ctx: MessageContext<'chat.publish.request'>, body: BodyOf<'chat.publish.request'>): Promise<ReplyBody<'chat.publish.request'>> {
    traceWrite?.('server.handler', ctx.id); // past the service's middleware, before the token check
    const user = await this.#auth.actingUser(ctx.envelope.auth, body.user);
    const { op } = (await this.#commit(ctx, 'publish', { user, channel: body.channel, text: body.text }, () => {
      this.#requireUser(user);
      if (this.#store.channel(body.channel) === undefined) {
        throw new BadRequestError(`there is no channel ${body.channel}: create it first (chat.channel.create.request)`, {
          data: { channel: body.channel, reason: 'unknown_channel' },
        });
      }
      return true;
    }))!;
    return { op: op.op, channel: body.channel, lc: op.lc, ts: op.hlc[0] };
  }

  @handles('chat.direct.request')
  async direct(ctx: MessageContext<'chat.direct.request'>, body: BodyOf<'chat.direct.request'>): Promise<ReplyBody<'chat.direct.request'>> {
    const user = await this.#auth.actingUser(ctx.envelope.auth, body.user);
    const { op } = (await this.#commit(ctx, 'direct', { user, to: body.to, text: body.text }, () => {
      this.#requireUser(user);
      this.#requireUser(body.to);
      return true;
    }))!;
    return { op: op.op, to: body.to, lc: op.lc, ts: op.hlc[0] };
  }

  @handles('chat.history.request')
  async history(ctx: MessageContext<'chat.history.request'>, body: BodyOf<'chat.history.request'>): Promise<ReplyBody<'chat.history.request'>> {
    await this.#auth.authorizeRead(ctx.envelope.auth);
    if (this.#store.channel(body.channel) === undefined) {
      throw new NotFoundError(`there is no channel ${body.channel}`, { data: { channel: body.channel } });
    }
    const page = this.#store.history(body.channel, body.limit ?? this.#pageSize, this.#cursor(body.before));
    return messagesPage(page);
  }

  @handles('chat.conversation.request')
  async conversation(ctx: MessageContext<'chat.conversation.request'>, body: BodyOf<'chat.conversation.request'>): Promise<ReplyBody<'chat.conversation.request'>> {
    const asking = await this.#auth.actingUser(ctx.envelope.auth, body.user);
    for (const user of [asking, body.peer]) {
      if (this.#store.user(user) === undefined) throw new NotFoundError(`there is no user ${user}`, { data: { user } });
    }
    const page = this.#store.conversation(asking, body.peer, body.limit ?? this.#pageSize, this.#cursor(body.before));
    return messagesPage(page);
  }

  @handles('chat.inbox.request')
  async inbox(ctx: MessageContext<'chat.inbox.request'>, body: BodyOf<'chat.inbox.request'>): Promise<ReplyBody<'chat.inbox.request'>> {
    const user = await this.#auth.actingUser(ctx.envelope.auth, body.user);
    if (this.#store.user(user) === undefined) throw new NotFoundError(`there is no user ${user}`, { data: { user } });
    const page = this.#store.inbox(user, body.limit ?? this.#pageSize, this.#cursor(body.before));
    return messagesPage(page);
  }

  /**
   * Commits one operation for the request `ctx` and announces it. `precondition` runs inside the
   * commit: it throws to refuse the request, or returns false when there is nothing to change
   * (then nothing is committed and the result is undefined). A retry of a request already
   * committed (same request id) gets that operation back and commits nothing.
   */
  async #commit<K extends Kind>(
    ctx: MessageContext,
    kind: K,
    data: OperationData<K>,
    precondition: () => boolean = () => true,
    sameRequest: (stored: OperationData<K>) => boolean = (stored) => sameData(stored, data),
  ): Promise<Committed | undefined> {
    traceWrite?.('server.commit.start', ctx.id);
    // With confirmations, the operation goes to the peers while it commits here (when the store's
    // send-ahead fence allows): the reply waits for both, the local commit and k confirmations.
    let confirming: Promise<void> | undefined;
    const confirm = this.#confirm;
    const sendAhead =
      confirm && this.#sendAhead
        ? (op: Operation) => {
            confirming = confirm(op);
            confirming.catch(() => undefined); // awaited below, once the commit is durable
          }
        : undefined;
    let committed: Committed | undefined;
    try {
      const build = (seq: number) => {
        traceWrite?.('server.commit.txn', ctx.id); // inside the write transaction
        return precondition() ? this.#clock.stamp(this.#id, seq, kind, data, ctx.id) : undefined;
      };
      committed = await this.#store.commitLocal(this.#id, ctx.id, build, sendAhead);
    } catch (error) {
      if (this.#store.sendAheadUnresolved) this.#onSendAheadLost?.();
      throw error;
    }
    traceWrite?.('server.commit.durable', ctx.id);
    if (committed === undefined) return undefined;
    const { op, duplicate } = committed;
    if (duplicate) {
      if (op.kind !== kind || !sameRequest(op.data as OperationData<K>)) {
        throw new ConflictError(`request id ${ctx.id} was already used for another request (a ${op.kind}); send a new request with a new id`, {
          data: { rid: ctx.id, kind: op.kind },
        });
      }
      this.counters.deduplicated++;
      // A previous run committed it and may have died before announcing it: announce it again
      // (subscribers de-duplicate by op id). This run's own operations were announced already.
      if (op.op.origin === this.#id && op.op.seq < this.#firstCommittedThisRun && !this.#reannounced.has(op.op.seq)) {
        if (this.#reannounced.size >= REANNOUNCED_REMEMBERED) this.#reannounced.clear();
        this.#reannounced.add(op.op.seq);
        this.counters.reannounced++;
        this.#fanout.announce(op);
      }
      await this.#confirm?.(op);
      return committed;
    }
    this.counters.committed[kind] = (this.counters.committed[kind] ?? 0) + 1;
    if (op.op.seq < this.#firstCommittedThisRun) this.#firstCommittedThisRun = op.op.seq;
    // With confirmations, `confirm` pushes the operation to every live peer in a replica.apply
    // batch (already under way when it was sent ahead); a replica.op publication as well would make
    // each peer decode and check it twice. The batch leaves first (at once when none is in flight),
    // so the announcement overlaps its round trip.
    confirming ??= confirm?.(op);
    this.#fanout.announce(op, { replica: confirm === undefined });
    traceWrite?.('server.announced', ctx.id);
    await confirming;
    traceWrite?.('server.confirmed', ctx.id);
    return committed;
  }

  /** CONFLICT when the name is registered already (a name known only from open-mode logins is free). */
  #refuseTaken(user: string): void {
    if (this.#store.account(user)?.cred !== undefined) throw new ConflictError(`the user name ${user} is already registered`, { data: { user, reason: 'registered' } });
  }

  #requireUser(user: string): void {
    if (this.#store.user(user) === undefined) {
      throw new BadRequestError(`user ${user} is not known to this server: log in first (chat.login.request); a login on another server reaches this one after the replication delay`, {
        data: { user, reason: 'unknown_user' },
      });
    }
  }

  #cursor(cursor: string | undefined): OrderKey | undefined {
    if (cursor === undefined) return undefined;
    const key = decodeCursor(cursor);
    if (!key) throw new BadRequestError('this paging cursor was not issued by this server: pass back the `next` of a previous reply unchanged', { data: { cursor } });
    return key;
  }
}

/** The op id a credential string ("<origin>:<seq>") names. */
function opIdOf(cred: string): { origin: string; seq: number } {
  const colon = cred.lastIndexOf(':');
  return { origin: cred.slice(0, colon), seq: Number(cred.slice(colon + 1)) };
}

function sameData(stored: object, requested: object): boolean {
  const a = stored as Record<string, unknown>;
  const b = requested as Record<string, unknown>;
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

/** A page of publications or direct messages as a reply: its items, and `next` as a cursor when older ones remain. */
function messagesPage<T>(page: Page<T>): { messages: T[]; next?: string } {
  return page.next === undefined ? { messages: page.items } : { messages: page.items, next: encodeCursor(page.next as OrderKey) };
}
