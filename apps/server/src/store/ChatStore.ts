import { mkdirSync } from 'node:fs';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import { Decoder, Encoder, InternalError } from '@correio/codec';
import type { ChatDirect, ChatPublication, Operation } from '@correio/protocol';
import { EMPTY_DIGEST, xorDigest } from './digest.js';
import { compareOrder, orderOf, type OrderKey } from './order.js';

export interface UserRecord {
  user: string;
  first_seen: number;
  last_seen: number;
}

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
}

type OpKey = [origin: string, seq: number];

/**
 * The server's durable state, in one LMDB environment: the operation log (every operation of every
 * origin, by (origin, seq)) and the indexes derived from it (users, channels, channel history,
 * conversations, request ids). Every operation is applied in the same transaction as its index
 * updates, and applying is idempotent and order-independent, so any permutation or duplication of
 * a set of operations yields the same state. A commit resolves only after LMDB has synced it to
 * disk; writes issued in the same tick share one transaction (group commit).
 */
export class ChatStore {
  readonly #env: RootDatabase;
  readonly #ops: Database<Uint8Array, OpKey>;
  readonly #meta: Database<unknown, string | [string, string]>;
  readonly #users: Database<UserRecord, string>;
  readonly #channels: Database<ChannelRecord, string>;
  readonly #publications: Database<ChatPublication, Key>;
  readonly #directs: Database<ChatDirect, Key>;
  readonly #requests: Database<OrderKey, string>;
  readonly #encoder = new Encoder();
  readonly #decoder = new Decoder();

  private constructor(options: ChatStoreOptions) {
    mkdirSync(options.path, { recursive: true });
    this.#env = open({ path: options.path, compression: false, noSync: options.unsafeNoSync ?? false, maxDbs: 16 });
    this.#ops = this.#env.openDB({ name: 'ops', encoding: 'binary' });
    this.#meta = this.#env.openDB({ name: 'meta' });
    this.#users = this.#env.openDB({ name: 'users' });
    this.#channels = this.#env.openDB({ name: 'channels' });
    this.#publications = this.#env.openDB({ name: 'publications' });
    this.#directs = this.#env.openDB({ name: 'directs' });
    this.#requests = this.#env.openDB({ name: 'requests' });
  }

  static open(options: ChatStoreOptions): ChatStore {
    return new ChatStore(options);
  }

  /**
   * Commits an operation of this server: the next sequence number of `origin` is assigned inside
   * the transaction. A request id already committed returns the earlier operation instead, so a
   * client's retry never stores a message twice.
   */
  async commitLocal(origin: string, rid: string | undefined, build: (seq: number) => Operation): Promise<Committed> {
    return this.#env.transaction(() => {
      if (rid !== undefined) {
        const earlier = this.#requests.get(rid);
        if (earlier) return { op: this.#readOp([earlier[2], earlier[3]])!, duplicate: true };
      }
      const op = build(this.highWaterMark(origin) + 1);
      this.#applyInTransaction(op);
      return { op, duplicate: false };
    });
  }

  /** Applies operations from any origin; returns how many were new. Idempotent. */
  async apply(ops: readonly Operation[]): Promise<number> {
    if (ops.length === 0) return 0;
    return this.#env.transaction(() => {
      let added = 0;
      for (const op of ops) if (this.#applyInTransaction(op)) added++;
      return added;
    });
  }

  #applyInTransaction(op: Operation): boolean {
    const key: OpKey = [op.op.origin, op.op.seq];
    if (this.#ops.doesExist(key)) return false;
    const bytes = this.#encoder.encode(op);
    this.#ops.put(key, bytes);
    this.#advanceHighWaterMark(op.op.origin, op.op.seq);
    const digest = (this.#meta.get('digest') as { hash: Uint8Array; ops: number } | undefined) ?? { hash: EMPTY_DIGEST, ops: 0 };
    this.#meta.put('digest', { hash: xorDigest(digest.hash, bytes), ops: digest.ops + 1 });
    const order = orderOf(op);
    // Index only the earliest operation of a request id: retries sent to two servers at once
    // produce two operations, and every replica shows the same one of them.
    if (op.rid !== undefined) {
      const winner = this.#requests.get(op.rid);
      if (winner && compareOrder(winner, order) <= 0) return true;
      if (winner) this.#unindex(winner);
      this.#requests.put(op.rid, order);
    }
    this.#index(op, order);
    return true;
  }

  #index(op: Operation, order: OrderKey): void {
    const wall = op.hlc[0];
    switch (op.kind) {
      case 'login': {
        const user = this.#users.get(op.data.user);
        this.#users.put(op.data.user, {
          user: op.data.user,
          first_seen: Math.min(user?.first_seen ?? wall, wall),
          last_seen: Math.max(user?.last_seen ?? wall, wall),
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
        this.#publications.put([op.data.channel, ...order], {
          op: op.op, channel: op.data.channel, user: op.data.user, text: op.data.text, lc: op.lc, hlc: op.hlc, ts: wall,
        });
        return;
      case 'direct':
        this.#directs.put([...conversationOf(op.data.user, op.data.to), ...order], {
          op: op.op, from: op.data.user, to: op.data.to, text: op.data.text, lc: op.lc, hlc: op.hlc, ts: wall,
        });
        return;
    }
  }

  /** Removes the reader-visible entry of a request's former winner (publish and direct only; the rest is idempotent). */
  #unindex(order: OrderKey): void {
    const op = this.#readOp([order[2], order[3]]);
    if (op?.kind === 'publish') this.#publications.remove([op.data.channel, ...order]);
    if (op?.kind === 'direct') this.#directs.remove([...conversationOf(op.data.user, op.data.to), ...order]);
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
    let next: string | undefined;
    for (const { key, value } of db.getRange({ start: after === undefined ? '' : after + '\0', limit: limit + 1 })) {
      if (items.length === limit) break;
      items.push(value);
      next = key;
    }
    const more = Array.from(db.getRange({ start: next === undefined ? '' : next + '\0', limit: 1 })).length > 0;
    return more && next !== undefined ? { items, next } : { items };
  }

  /** The last `limit` publications of a channel before `before`, oldest first. */
  history(channel: string, limit: number, before?: OrderKey): Page<ChatPublication> {
    return this.#lastPage(this.#publications, [channel], limit, before);
  }

  /** The last `limit` direct messages between two users before `before`, oldest first. */
  conversation(a: string, b: string, limit: number, before?: OrderKey): Page<ChatDirect> {
    return this.#lastPage(this.#directs, conversationOf(a, b), limit, before);
  }

  #lastPage<T>(db: Database<T, Key>, prefix: string[], limit: number, before?: OrderKey): Page<T> {
    const start = before ? [...prefix, ...before] : [...prefix, Number.MAX_SAFE_INTEGER];
    // A reverse range includes its start; the cursor's own entry was on the previous page.
    const found = Array.from(db.getRange({ start, end: [...prefix, -1], reverse: true, limit: limit + 2 })).filter(
      (entry) => !before || compareOrder((entry.key as unknown[]).slice(prefix.length) as OrderKey, before) !== 0,
    );
    const page = found.slice(0, limit).reverse();
    const oldest = found[limit - 1];
    const next = found.length > limit && oldest ? ((oldest.key as unknown[]).slice(prefix.length) as OrderKey) : undefined;
    return next ? { items: page.map((entry) => entry.value), next } : { items: page.map((entry) => entry.value) };
  }

  /**
   * Re-reads every operation and recomputes the digest; a mismatch or an undecodable operation
   * means the store is damaged, and is reported instead of being served silently.
   */
  verify(): { ok: boolean; ops: number; problem?: string } {
    let hash: Uint8Array = EMPTY_DIGEST;
    let count = 0;
    for (const { key, value } of this.#ops.getRange()) {
      try {
        const op = this.#decodeOp(value);
        if (op.op.origin !== key[0] || op.op.seq !== key[1]) return { ok: false, ops: count, problem: `operation at ${key.join(':')} holds ${op.op.origin}:${op.op.seq}` };
      } catch (error) {
        return { ok: false, ops: count, problem: `operation ${key.join(':')} is unreadable: ${(error as Error).message}` };
      }
      hash = xorDigest(hash, value as Uint8Array);
      count++;
    }
    const stored = this.digest();
    if (stored.ops !== count || stored.hash !== Buffer.from(hash).toString('hex')) {
      return { ok: false, ops: count, problem: `digest mismatch: stored ${stored.ops} ops/${stored.hash}, found ${count}/${Buffer.from(hash).toString('hex')}` };
    }
    return { ok: true, ops: count };
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

  async close(): Promise<void> {
    await this.#env.close();
  }
}

/** Both directions of a conversation share one key: the two names in order. */
function conversationOf(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}
