import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { writeFileDurably } from '@correio/observability';
import { Decoder, Encoder, InternalError, UnavailableError } from '@correio/codec';
import { BODY_VALIDATORS, type ChatDirect, type ChatPublication, type Operation } from '@correio/protocol';
import { accountOf, credentialOf, IDENTITY_KINDS, type AccountRecord, type IdentityEntry } from './accounts.js';
import { EMPTY_DIGEST, xorDigest } from './digest.js';
import { ConfigIndex, type ConfigEntry } from './ConfigIndex.js';
import { compareOrder, orderOf, type OrderKey } from './order.js';
import { SendAheadFence } from './SendAheadFence.js';
import { StoreDamagedError, StoreMismatchError } from './StoreErrors.js';
import { directOf, publicationOf } from './views.js';

export interface UserRecord {
  user: string;
  first_seen: number;
  last_seen: number;
  /** The order of the user's earliest login operation: the login that created the user. */
  first_login: OrderKey;
}

export type { AccountRecord } from './accounts.js';

export interface ChannelRecord {
  channel: string;
  created_by: string;
  created_at: number;
  /** The creating operation's order; the earliest create wins on every replica. */
  order: OrderKey;
}

export interface Page<T> {
  items: T[];
  /** Present when more items exist past this page. */
  next?: OrderKey | string;
}

export interface StoreDigest {
  /** Per-origin contiguous high-water marks: every seq 1..hwm of that origin is held. */
  hwm: Record<string, number>;
  /** Hex SHA-256 XOR over all operations held. */
  hash: string;
  /** Operations held. */
  ops: number;
}

/** The largest clock values of the operations held: a restarted server resumes its clocks past them. */
export interface StoreClocks {
  lc: number;
  hlc: [wall: number, logical: number];
}

export interface VerifyReport {
  ok: boolean;
  /** Operations read before the verdict. */
  ops: number;
  problem?: string;
}

/** What committing a local operation produced: the operation, and whether it was a retry. */
export interface Committed {
  op: Operation;
  duplicate: boolean;
}

export interface ChatStoreOptions {
  /** Directory of the LMDB environment; created when missing. */
  readonly path: string;
  /**
   * Skip fsync on commit. Only for tests and benchmarks that do not need durability: with it, an
   * acknowledged write can be lost on a crash.
   */
  readonly unsafeNoSync?: boolean;
  /** Called with each operation new to the store (committed here or replicated), once it is durable. */
  readonly onApplied?: (op: Operation) => void;
}

type OpKey = [origin: string, seq: number];

/**
 * The commit itself syncs: once a transaction promise resolves, its data and meta page are on disk
 * (`mdb_txn_commit` without MDB_NOSYNC: fdatasync, then the meta page through the synchronous
 * descriptor). With overlapping sync (the lmdb-js default on Linux) it would resolve before the
 * sync, so commits could no longer take their promise as durability.
 */
const SYNC_MODE = { noSync: false, noMetaSync: false, overlappingSync: false } as const;

/** The on-disk layout this code reads and writes; a store of another format is refused. */
const FORMAT = 1;

/**
 * A page of history stays well under the 1 MiB envelope limit (ENCODING.md §2), whatever the
 * texts: 500 publications of 4,000 four-byte code points would be 8 MB.
 */
const PAGE_BUDGET_BYTES = 768 * 1024;

/**
 * The server's durable state, in one LMDB environment: the operation log (every operation of every
 * origin, by (origin, seq)) and the indexes derived from it (users, channels, channel history,
 * conversations, request ids). Every operation is applied in the same transaction as its index
 * updates, and applying is idempotent and order-independent, so any permutation or duplication of
 * a set of operations yields the same state.
 *
 * Durability: a commit resolves only once LMDB has synced it to disk (fsync in the commit; no
 * overlapping sync), and writes issued while a commit is under way share the next transaction
 * (lmdb-js batching: group commit), so many concurrent writers cost one sync per batch.
 */
export class ChatStore {
  readonly path: string;
  readonly #env: RootDatabase;
  readonly #ops: Database<Uint8Array, OpKey>;
  readonly #meta: Database<unknown, string | [string, string]>;
  readonly #users: Database<UserRecord, string>;
  readonly #channels: Database<ChannelRecord, string>;
  readonly #publications: Database<ChatPublication, Key>;
  readonly #directs: Database<ChatDirect, Key>;
  /** Direct messages by recipient, in order: [to, ...order] → message (revision 1.2). */
  readonly #inbox: Database<ChatDirect, Key>;
  readonly #requests: Database<OrderKey, string>;
  /** Register and password operations by user, in order: [user, ...order] → entry (revision 1.1). */
  readonly #identity: Database<IdentityEntry, Key>;
  /** Each user's account, derived from #identity and the logouts. */
  readonly #accounts: Database<AccountRecord, string>;
  /** Configuration versions by scope (revision 1.4). */
  readonly #config: ConfigIndex;
  readonly #encoder = new Encoder();
  readonly #decoder = new Decoder();
  readonly #onApplied: (op: Operation) => void;
  /** Which own operations may reach peers before their commit is durable (SendAheadFence). */
  readonly #fence: SendAheadFence;
  /** The server id claim() bound the store to. */
  #owner: string | undefined;

  private constructor(options: ChatStoreOptions) {
    this.path = options.path;
    this.#onApplied = options.onApplied ?? (() => undefined);
    mkdirSync(options.path, { recursive: true });
    preflight(options.path);
    try {
      this.#env = open({ path: options.path, compression: false, maxDbs: 16, ...SYNC_MODE, noSync: options.unsafeNoSync ?? false });
      this.#ops = this.#env.openDB({ name: 'ops', encoding: 'binary' });
      this.#meta = this.#env.openDB({ name: 'meta' });
      this.#users = this.#env.openDB({ name: 'users' });
      this.#channels = this.#env.openDB({ name: 'channels' });
      this.#publications = this.#env.openDB({ name: 'publications' });
      this.#directs = this.#env.openDB({ name: 'directs' });
      this.#requests = this.#env.openDB({ name: 'requests' });
      // Added by revision 1.1; a store of an earlier version opens them empty (it holds no identity operations).
      this.#identity = this.#env.openDB({ name: 'identity' });
      this.#accounts = this.#env.openDB({ name: 'accounts' });
      // Added by revision 1.2; claim() fills it from the conversations of a store made before.
      this.#inbox = this.#env.openDB({ name: 'inbox' });
      // Added by revision 1.4; a store of an earlier version opens it empty (it holds no config.set operations).
      this.#config = new ConfigIndex(this.#env.openDB<ConfigEntry, Key>({ name: 'config' }));
      this.#fence = new SendAheadFence(this.#meta);
    } catch (error) {
      throw new StoreDamagedError(`the store at ${options.path} cannot be opened: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Opens (or creates) the store; throws StoreDamagedError when it is missing its data or LMDB cannot open it. */
  static open(options: ChatStoreOptions): ChatStore {
    return new ChatStore(options);
  }

  /**
   * Binds the store to one server id: a new store records it, an existing one must carry it. Two
   * servers sharing a store (or a store copied to another id) would issue the same operation ids.
   */
  async claim(owner: string): Promise<void> {
    const format = this.#meta.get('format');
    const current = this.#meta.get('owner') as string | undefined;
    const marker = readMarker(this.path);
    if (format !== undefined && format !== FORMAT) {
      throw new StoreMismatchError(`the store at ${this.path} has format ${String(format)}; this server reads format ${FORMAT}`);
    }
    if (marker !== undefined && current === undefined) {
      // The directory held a store (the marker says so), but the data file is a fresh one.
      throw new StoreDamagedError(`the store at ${this.path} lost its data: ${MARKER_FILE} names server ${marker.owner}, but the data file holds no store`);
    }
    const recorded = current ?? marker?.owner;
    if (recorded !== undefined && recorded !== owner) {
      throw new StoreMismatchError(`the store at ${this.path} belongs to server ${recorded}, not ${owner}; use that id or another --data-dir`);
    }
    if (current === undefined) {
      await this.#env.transaction(() => {
        this.#meta.put('format', FORMAT);
        this.#meta.put('owner', owner);
      });
      await this.#durable();
    }
    if (marker === undefined) writeMarker(this.path, { format: FORMAT, owner });
    this.#owner = owner;
    this.#fence.load(this.highWaterMark(owner));
    await this.#buildInbox();
  }

  /** Indexes by recipient the direct messages of a store made before the inbox existed (once: a meta flag records it). */
  async #buildInbox(): Promise<void> {
    if (this.#meta.get('inbox') === true) return;
    await this.#env.transaction(() => {
      for (const { key, value } of this.#directs.getRange()) this.#inbox.put([value.to, ...(key as unknown[]).slice(2)] as Key, value);
      this.#meta.put('inbox', true);
    });
  }

  /** The server id the store belongs to, once claimed. */
  get owner(): string | undefined {
    return this.#meta.get('owner') as string | undefined;
  }

  /**
   * Commits an operation of this server: the next sequence number of `origin` is assigned inside
   * the transaction, and `build` runs inside it too, so what it reads (does the user exist?) is
   * what the operation is applied to. `build` may throw (nothing is written) or return undefined
   * (nothing to change; resolves undefined). A request id already committed returns the earlier
   * operation instead, so a client's retry never stores a message twice. Resolves once durable.
   *
   * `sendAhead`, when given, is called with the new operation inside the transaction, before the
   * commit, when the send-ahead fence allows it (SendAheadFence): the caller replicates it while
   * the commit runs. Refused (UNAVAILABLE) while operations an earlier run sent ahead are unresolved.
   */
  async commitLocal(origin: string, rid: string | undefined, build: (seq: number) => Operation | undefined, sendAhead?: (op: Operation) => void): Promise<Committed | undefined> {
    const own = origin === this.#owner;
    if (own && this.#fence.unresolved) {
      throw new UnavailableError(
        `server ${origin} is learning back from its peers the operations it sent before its last stop (up to number ${this.#fence.limit}) and writes once every listed server answered; retry`,
        { data: { server: origin, reason: 'resolving_sent_ahead' } },
      );
    }
    let fenceWritten: number | undefined;
    let sentAhead = false;
    const committing = this.#env.transaction((): Committed | undefined => {
      if (rid !== undefined) {
        const earlier = this.#requests.get(rid);
        if (earlier) return { op: this.#readOp([earlier[2], earlier[3]])!, duplicate: true };
      }
      const op = build(this.highWaterMark(origin) + 1);
      if (op === undefined) return undefined;
      this.#applyInTransaction(op);
      // Only a caller that sends ahead moves the fence: without one, a crash leaves nothing to learn back.
      if (own && sendAhead) {
        fenceWritten = this.#fence.advanceInTransaction(op.op.seq);
        if (this.#fence.allows(op.op.seq)) {
          sentAhead = true;
          sendAhead(op);
        }
      }
      return { op, duplicate: false };
    });
    let committed: Committed | undefined;
    try {
      committed = await committing;
    } catch (error) {
      if (sentAhead) this.#fence.lost();
      throw error;
    }
    // Resolved after LMDB's commit synced (SYNC_MODE): durable.
    this.#fence.committed(fenceWritten);
    if (committed?.duplicate === false) this.#onApplied(committed.op);
    return committed;
  }

  /**
   * While true, this store's owner may have sent operations to peers that it never committed (a
   * crash mid-commit, or a failed commit), and must not commit its own until `sendAheadResolved`.
   */
  get sendAheadUnresolved(): boolean {
    return this.#fence.unresolved;
  }

  /** Every server listed was asked for this server's own operations past its high-water mark, and those it held are stored here. */
  sendAheadResolved(): void {
    this.#fence.resolved();
  }

  /** Applies operations from any origin; returns how many were new. Idempotent. Resolves once durable. */
  async apply(ops: readonly Operation[]): Promise<number> {
    if (ops.length === 0) return 0;
    const added = await this.#env.transaction(() => ops.filter((op) => this.#applyInTransaction(op)));
    // Resolved after LMDB's commit synced (SYNC_MODE): durable, also when the operations were
    // already held, as their earlier transaction committed before this one.
    for (const op of added) this.#onApplied(op);
    return added.length;
  }

  /**
   * Waits until every commit so far is on disk. The commit promise of a transaction already implies
   * it for that transaction (the environment syncs in the commit: `SYNC_MODE`, set at open), so
   * commits do not call this: lmdb-js's `flushed` follows the batch being filled, and under
   * continuous load waiting for it would add a whole further commit to every write.
   */
  async #durable(): Promise<void> {
    await this.#env.flushed;
  }

  #applyInTransaction(op: Operation): boolean {
    const key: OpKey = [op.op.origin, op.op.seq];
    if (this.#ops.doesExist(key)) return false;
    // Everything that can fail runs before the first write: a callback that throws half-way
    // would leave its earlier writes in the shared transaction.
    const bytes = this.#encoder.encode(op);
    const digest = (this.#meta.get('digest') as { hash: Uint8Array; ops: number } | undefined) ?? { hash: EMPTY_DIGEST, ops: 0 };
    const nextHash = xorDigest(digest.hash, bytes);
    const clocks = this.clocks();
    this.#ops.put(key, bytes);
    this.#advanceHighWaterMark(op.op.origin, op.op.seq);
    this.#meta.put('digest', { hash: nextHash, ops: digest.ops + 1 });
    if (op.lc > clocks.lc || compareHlc(op.hlc, clocks.hlc) > 0) {
      this.#meta.put('clocks', { lc: Math.max(op.lc, clocks.lc), hlc: compareHlc(op.hlc, clocks.hlc) > 0 ? op.hlc : clocks.hlc });
    }
    const order = orderOf(op);
    // Show only the earliest message of a request id: retries sent to two servers at once
    // produce two operations, and every replica shows the same one of them. Logins and channel
    // creations are always indexed: their indexes merge commutatively (earliest creator, latest
    // login), so whichever arrives first, every replica ends in the same state; skipping a login
    // that lost the race would make the result depend on the arrival order.
    let visible = true;
    if (op.rid !== undefined) {
      const winner = this.#requests.get(op.rid);
      if (winner && compareOrder(winner, order) <= 0) visible = false;
      else {
        if (winner) this.#unindex(winner);
        this.#requests.put(op.rid, order);
      }
    }
    if (visible || op.kind === 'login' || op.kind === 'channel.create' || IDENTITY_KINDS.has(op.kind)) this.#index(op, order);
    return true;
  }

  #index(op: Operation, order: OrderKey): void {
    const wall = op.hlc[0];
    switch (op.kind) {
      case 'login': {
        const user = this.#users.get(op.data.user);
        const first = user && compareOrder(user.first_login, order) <= 0 ? user : undefined;
        this.#users.put(op.data.user, {
          user: op.data.user,
          first_seen: first ? first.first_seen : wall,
          last_seen: Math.max(user?.last_seen ?? wall, wall),
          first_login: first ? first.first_login : order,
        });
        return;
      }
      case 'channel.create': {
        const channel = this.#channels.get(op.data.channel);
        if (channel && compareOrder(channel.order, order) <= 0) return;
        this.#channels.put(op.data.channel, { channel: op.data.channel, created_by: op.data.user, created_at: wall, order });
        return;
      }
      case 'publish':
        this.#publications.put([op.data.channel, ...order], publicationOf(op));
        return;
      case 'direct': {
        const message = directOf(op);
        this.#directs.put([...conversationOf(op.data.user, op.data.to), ...order], message);
        this.#inbox.put([op.data.to, ...order], message);
        return;
      }
      case 'register':
      case 'password':
        this.#identity.put([op.data.user, ...order], op.kind === 'register' ? { kind: 'register', hash: op.data.hash } : { kind: 'password', hash: op.data.hash, under: credentialOf(op.data.under) });
        this.#accounts.put(op.data.user, this.#deriveAccount(op.data.user));
        return;
      case 'logout': {
        // The latest logout wins, whatever the order the logouts arrive in.
        const account = this.#accounts.get(op.data.user) ?? { user: op.data.user, logout_at: 0 };
        if (wall > account.logout_at) this.#accounts.put(op.data.user, { ...account, logout_at: wall });
        return;
      }
      case 'config.set':
        this.#config.put(op, order);
        return;
    }
  }

  /** A user's account from every register and password operation held for the name (accounts.ts). */
  #deriveAccount(user: string): AccountRecord {
    const entries: Array<[OrderKey, IdentityEntry]> = [];
    for (const { key, value } of this.#identity.getRange({ start: [user, -1], end: [user, Number.MAX_SAFE_INTEGER, 2 ** 32] })) {
      entries.push([(key as unknown[]).slice(1) as OrderKey, value]);
    }
    return accountOf(user, entries, this.#accounts.get(user)?.logout_at ?? 0);
  }

  /** The operation committed for request id `rid`, if any (what a retry of that request gets back). */
  committedFor(rid: string): Operation | undefined {
    const order = this.#requests.get(rid);
    return order ? this.#readOp([order[2], order[3]]) : undefined;
  }

  /** Configuration versions by scope (read only: they change through config.set operations). */
  get config(): Pick<ConfigIndex, 'head' | 'version' | 'history'> {
    return this.#config;
  }

  /** A user's account (registration, current credential and hash, latest logout), if any. */
  account(user: string): AccountRecord | undefined {
    return this.#accounts.get(user);
  }

  /** Removes the reader-visible entry of a request's former winner (publish, direct and config.set; the rest is idempotent). */
  #unindex(order: OrderKey): void {
    const op = this.#readOp([order[2], order[3]]);
    if (op?.kind === 'publish') this.#publications.remove([op.data.channel, ...order]);
    if (op?.kind === 'config.set') this.#config.remove(op, order);
    if (op?.kind === 'direct') {
      this.#directs.remove([...conversationOf(op.data.user, op.data.to), ...order]);
      this.#inbox.remove([op.data.to, ...order]);
    }
  }

  #advanceHighWaterMark(origin: string, seq: number): void {
    let hwm = this.highWaterMark(origin);
    if (seq !== hwm + 1) return;
    do hwm++;
    while (this.#ops.doesExist([origin, hwm + 1]));
    this.#meta.put(['hwm', origin], hwm);
  }

  /** Every seq 1..n of `origin` is held. */
  highWaterMark(origin: string): number {
    return (this.#meta.get(['hwm', origin]) as number | undefined) ?? 0;
  }

  hasOp(origin: string, seq: number): boolean {
    return this.#ops.doesExist([origin, seq]);
  }

  /** One operation, if held. */
  op(origin: string, seq: number): Operation | undefined {
    return this.#readOp([origin, seq]);
  }

  /** Operations of one origin from `from` (inclusive), in seq order, at most `limit`. */
  opsFrom(origin: string, from: number, limit: number, to = Number.MAX_SAFE_INTEGER): Operation[] {
    const ops: Operation[] = [];
    for (const { value } of this.#ops.getRange({ start: [origin, from], end: [origin, to + 1], limit })) {
      ops.push(this.#decodeOp(value));
    }
    return ops;
  }

  digest(): StoreDigest {
    const hwm: Record<string, number> = {};
    for (const { key, value } of this.#meta.getRange({ start: ['hwm', ''], end: ['hwm', '\uffff'] })) {
      hwm[(key as [string, string])[1]] = value as number;
    }
    const digest = (this.#meta.get('digest') as { hash: Uint8Array; ops: number } | undefined) ?? { hash: EMPTY_DIGEST, ops: 0 };
    return { hwm, hash: Buffer.from(digest.hash).toString('hex'), ops: digest.ops };
  }

  clocks(): StoreClocks {
    return (this.#meta.get('clocks') as StoreClocks | undefined) ?? { lc: 0, hlc: [0, 0] };
  }

  user(name: string): UserRecord | undefined {
    return this.#users.get(name);
  }

  users(limit: number, after?: string): Page<UserRecord> {
    return this.#namePage(this.#users, limit, after);
  }

  channel(name: string): ChannelRecord | undefined {
    return this.#channels.get(name);
  }

  channels(limit: number, after?: string): Page<ChannelRecord> {
    return this.#namePage(this.#channels, limit, after);
  }

  #namePage<T>(db: Database<T, string>, limit: number, after?: string): Page<T> {
    const items: T[] = [];
    let last: string | undefined;
    let more = false;
    // Keys sort by their UTF-8 bytes, as the protocol orders names; `after + '\0'` is the first key past `after`.
    for (const { key, value } of db.getRange({ start: after === undefined ? '' : after + '\0', limit: limit + 1 })) {
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(value);
      last = key;
    }
    return more && last !== undefined ? { items, next: last } : { items };
  }

  /** The last `limit` publications of a channel before `before`, oldest first. */
  history(channel: string, limit: number, before?: OrderKey): Page<ChatPublication> {
    return this.#lastPage(this.#publications, [channel], limit, before, (p) => p.channel.length + p.user.length);
  }

  /** The last `limit` direct messages between two users before `before`, oldest first. */
  conversation(a: string, b: string, limit: number, before?: OrderKey): Page<ChatDirect> {
    return this.#lastPage(this.#directs, conversationOf(a, b), limit, before, (d) => d.from.length + d.to.length);
  }

  /** The last `limit` direct messages sent to `user` (from anyone) before `before`, oldest first. */
  inbox(user: string, limit: number, before?: OrderKey): Page<ChatDirect> {
    return this.#lastPage(this.#inbox, [user], limit, before, (d) => d.from.length + d.to.length);
  }

  /**
   * Walks an index backwards from `before` (exclusive) and returns up to `limit` entries, oldest
   * first, within the page byte budget; `next` is the oldest entry's key when older ones remain.
   */
  #lastPage<T extends ChatPublication | ChatDirect>(db: Database<T, Key>, prefix: string[], limit: number, before: OrderKey | undefined, names: (item: T) => number): Page<T> {
    // Above every key: [wall 2^53 − 1] alone sorts *before* the keys that extend it, so a message
    // stamped at the last wall time would never be read; no logical part reaches 2^32.
    const start = before ? [...prefix, ...before] : [...prefix, Number.MAX_SAFE_INTEGER, 2 ** 32];
    const items: T[] = [];
    let oldest: OrderKey | undefined;
    let bytes = 0;
    let more = false;
    for (const { key, value } of db.getRange({ start, end: [...prefix, -1], reverse: true })) {
      const order = (key as unknown[]).slice(prefix.length) as OrderKey;
      // A reverse range includes its start; the cursor's own entry was on the previous page.
      if (before && compareOrder(order, before) === 0) continue;
      // Names, text and the fixed fields (op, clocks, keys) with room to spare.
      const size = Buffer.byteLength(value.text) + names(value) + value.op.origin.length + 96;
      if (items.length === limit || (items.length > 0 && bytes + size > PAGE_BUDGET_BYTES)) {
        more = true;
        break;
      }
      items.push(value);
      bytes += size;
      oldest = order;
    }
    items.reverse();
    return more && oldest ? { items, next: oldest } : { items };
  }

  /**
   * Re-reads every operation and checks the store against itself: each operation decodes and sits
   * under its own id; the digest, the operation count, the high-water marks and the clock marks
   * match the log; every operation's index entries exist (users, channels, request ids, the
   * visible publications and direct messages, and no more of those than the log explains). Any
   * mismatch means the store is damaged, and is reported instead of being served silently.
   */
  verify(): VerifyReport {
    let hash: Uint8Array = EMPTY_DIGEST;
    let count = 0;
    const contiguous = new Map<string, number>();
    let maxLc = 0;
    let maxHlc: [number, number] = [0, 0];
    let visiblePublications = 0;
    let visibleDirects = 0;
    const fail = (problem: string): VerifyReport => ({ ok: false, ops: count, problem });
    try {
      for (const { key, value } of this.#ops.getRange()) {
        let op: Operation;
        try {
          op = this.#decodeOp(value);
        } catch (error) {
          return fail(`operation ${key.join(':')} is unreadable: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`);
        }
        if (!isOperation(op)) {
          const [first] = isOperation.errors ?? [];
          return fail(`operation ${key.join(':')} does not match the operation schema${first ? `: ${first.instancePath || '/'} ${first.message ?? first.keyword}` : ''}`);
        }
        if (op.op.origin !== key[0] || op.op.seq !== key[1]) return fail(`operation at ${key.join(':')} holds ${op.op.origin}:${op.op.seq}`);
        hash = xorDigest(hash, value as Uint8Array);
        count++;
        const [origin, seq] = key;
        const run = contiguous.get(origin) ?? 0;
        if (seq === run + 1) contiguous.set(origin, seq);
        maxLc = Math.max(maxLc, op.lc);
        if (compareHlc(op.hlc, maxHlc) > 0) maxHlc = op.hlc;
        const order = orderOf(op);
        let visible = true;
        if (op.rid !== undefined) {
          const winner = this.#requests.get(op.rid);
          if (!winner) return fail(`operation ${key.join(':')} carries request id ${op.rid}, which the request index lacks`);
          if (compareOrder(winner, order) > 0) return fail(`the request index names ${winner.join(':')} for ${op.rid}, later than operation ${key.join(':')}`);
          visible = compareOrder(winner, order) === 0;
        }
        const missing = this.#missingIndexEntry(op, order, visible);
        if (missing) return fail(`operation ${key.join(':')} (${op.kind}): ${missing}`);
        if (visible && op.kind === 'publish') visiblePublications++;
        if (visible && op.kind === 'direct') visibleDirects++;
      }
      const stored = this.digest();
      const found = Buffer.from(hash).toString('hex');
      if (stored.ops !== count || stored.hash !== found) {
        return fail(`digest mismatch: the store records ${stored.ops} operations with hash ${stored.hash}, the log holds ${count} with hash ${found}`);
      }
      for (const origin of new Set([...Object.keys(stored.hwm), ...contiguous.keys()])) {
        if ((stored.hwm[origin] ?? 0) !== (contiguous.get(origin) ?? 0)) {
          return fail(`high-water mark of ${origin} is ${stored.hwm[origin] ?? 0}, but the log holds 1..${contiguous.get(origin) ?? 0} contiguously`);
        }
      }
      const clocks = this.clocks();
      if (clocks.lc !== maxLc || compareHlc(clocks.hlc, maxHlc) !== 0) {
        return fail(`clock marks ${clocks.lc}/${clocks.hlc.join('.')} differ from the log's ${maxLc}/${maxHlc.join('.')}`);
      }
      const publications = countKeys(this.#publications);
      if (publications !== visiblePublications) return fail(`the channel history index holds ${publications} publications, the log explains ${visiblePublications}`);
      const directs = countKeys(this.#directs);
      if (directs !== visibleDirects) return fail(`the conversation index holds ${directs} direct messages, the log explains ${visibleDirects}`);
      const inbox = countKeys(this.#inbox);
      if (inbox !== visibleDirects) return fail(`the inbox index holds ${inbox} direct messages, the log explains ${visibleDirects}`);
    } catch (error) {
      return fail(`reading the store failed: ${(error as Error).message}`);
    }
    return { ok: true, ops: count };
  }

  /** What index entry an operation lacks, if any. */
  #missingIndexEntry(op: Operation, order: OrderKey, visible: boolean): string | undefined {
    switch (op.kind) {
      case 'login': {
        const user = this.#users.get(op.data.user);
        if (!user) return `user ${op.data.user} is not indexed`;
        if (compareOrder(user.first_login, order) > 0 || user.last_seen < op.hlc[0]) return `user ${op.data.user} is indexed with times that exclude this login`;
        return undefined;
      }
      case 'channel.create': {
        const channel = this.#channels.get(op.data.channel);
        if (!channel) return `channel ${op.data.channel} is not indexed`;
        if (compareOrder(channel.order, order) > 0) return `channel ${op.data.channel} is indexed as created later than this operation`;
        return undefined;
      }
      case 'publish':
        if (visible && !this.#publications.doesExist([op.data.channel, ...order])) return `the publication is missing from the history of ${op.data.channel}`;
        return undefined;
      case 'direct':
        if (visible && !this.#directs.doesExist([...conversationOf(op.data.user, op.data.to), ...order])) return 'the direct message is missing from its conversation';
        if (visible && !this.#inbox.doesExist([op.data.to, ...order])) return `the direct message is missing from the inbox of ${op.data.to}`;
        return undefined;
      case 'register':
      case 'password':
        if (!this.#identity.doesExist([op.data.user, ...order])) return `the ${op.kind} of ${op.data.user} is missing from the identity index`;
        return undefined;
      case 'logout':
        if ((this.#accounts.get(op.data.user)?.logout_at ?? -1) < op.hlc[0]) return `the account of ${op.data.user} misses this logout`;
        return undefined;
      case 'config.set':
        if (visible && !this.#config.has(op, order)) return `version ${op.data.version} of the ${op.data.program} configuration is missing from its index`;
        return undefined;
      default:
        return `unknown operation kind ${(op as { kind: unknown }).kind as string}`;
    }
  }

  #readOp(key: OpKey): Operation | undefined {
    const bytes = this.#ops.get(key);
    return bytes ? this.#decodeOp(bytes as Uint8Array) : undefined;
  }

  #decodeOp(bytes: Uint8Array): Operation {
    try {
      return this.#decoder.decode(bytes) as Operation;
    } catch (error) {
      throw new InternalError('a stored operation is unreadable; run the store verification', { cause: error });
    }
  }

  /** Bytes the store's files take on disk (allocated blocks where the platform reports them): a stat per file, no walk. */
  sizeOnDisk(): number {
    let bytes = 0;
    for (const file of [DATA_FILE, LOCK_FILE]) {
      const stats = statSync(join(this.path, file), { throwIfNoEntry: false });
      if (stats !== undefined) bytes += stats.blocks > 0 ? stats.blocks * 512 : stats.size;
    }
    return bytes;
  }

  async close(): Promise<void> {
    const owner = this.#owner;
    // A clean stop of the server that claimed the store: every commit has finished, so nothing it
    // sent is missing here. (A tool that only opened the store leaves the fence as it found it.)
    if (owner !== undefined) await this.#env.transaction(() => this.#fence.closeInTransaction(this.highWaterMark(owner))).catch(() => undefined);
    await this.#env.close();
  }
}

const isOperation = BODY_VALIDATORS['replica.op'];

/** Next to the LMDB files: which server's store this directory holds, so a lost or replaced data file is noticed. */
const MARKER_FILE = 'correio-store.json';
const DATA_FILE = 'data.mdb';
const LOCK_FILE = 'lock.mdb';
/** LMDB's meta page magic (0xBEEFC0DE), little-endian. */
const LMDB_MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);

interface StoreMarker {
  readonly format: number;
  readonly owner: string;
}

/**
 * Checks before LMDB maps the file: LMDB has no page checksums, and a file that is not an LMDB
 * environment can crash the process inside the native library instead of failing cleanly. Missing
 * data where the marker says a store was is reported too; LMDB would silently start a new one.
 */
function preflight(path: string): void {
  const data = join(path, DATA_FILE);
  const marker = readMarker(path);
  const size = existsSync(data) ? statSync(data).size : 0;
  if (size === 0) {
    if (marker) throw new StoreDamagedError(`the store at ${path} lost its data: ${DATA_FILE} is missing or empty, but ${MARKER_FILE} names server ${marker.owner}`);
    return;
  }
  // Either meta page (the first two pages; pages are 4 to 64 KiB) must carry the magic near its start.
  const head = Buffer.alloc(Math.min(size, 128 * 1024 + 64));
  const fd = openSync(data, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const metaPages = [0, 4096, 8192, 16384, 32768, 65536, 131072];
  if (!metaPages.some((at) => at < head.length && head.subarray(at, at + 64).indexOf(LMDB_MAGIC) >= 0)) {
    throw new StoreDamagedError(`the store at ${path} cannot be opened: ${DATA_FILE} is not an LMDB environment (no meta page)`);
  }
}

function readMarker(path: string): StoreMarker | undefined {
  const file = join(path, MARKER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoreMarker>;
    if (typeof marker.owner === 'string' && typeof marker.format === 'number') return { format: marker.format, owner: marker.owner };
  } catch {
    // unreadable: reported below
  }
  throw new StoreDamagedError(`the store at ${path} has an unreadable ${MARKER_FILE}`);
}

/** Writes the marker durably (a crash leaves the old marker or the new one). */
function writeMarker(path: string, marker: StoreMarker): void {
  writeFileDurably(join(path, MARKER_FILE), `${JSON.stringify(marker)}\n`);
}

/** Both directions of a conversation share one key: the two names in order. */
function conversationOf(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}

function compareHlc(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

function countKeys(db: Database<unknown, Key>): number {
  let count = 0;
  for (const _key of db.getKeys()) count++;
  return count;
}
