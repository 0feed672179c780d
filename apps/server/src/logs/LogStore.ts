import { mkdirSync } from 'node:fs';
import { BadRequestError } from '@correio/codec';
import type { LogBucket, LogRecord } from '@correio/protocol';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';

export interface LogStoreOptions {
  /** The store's directory (created when missing). */
  readonly path: string;
  /** Lines older than this are deleted. Default 7 days. */
  readonly maxAgeMs?: number;
  /** Characters of stored lines (messages and fields, plus a fixed cost per line) beyond which the oldest minutes are deleted. Default 500,000,000. */
  readonly maxChars?: number;
  /** The clock; tests move it. */
  readonly now?: () => number;
}

/** Filters of a query (protocol logs.query.request); the service resolves `level` to a number. */
export interface LogFilter {
  readonly program?: string;
  readonly instance?: string;
  readonly minLevel?: number;
  readonly since?: number;
  readonly until?: number;
  readonly requestId?: string;
  readonly contains?: string;
}

export interface LogPage {
  readonly lines: LogRecord[];
  /** Where the next page starts, when more lines may match. */
  readonly next?: string;
}

export interface StoreOutcome {
  readonly stored: number;
  readonly duplicates: number;
  /** Lines outside the kept window: older than retention, or more than a day ahead of this clock. */
  readonly refused: number;
}

type LineKey = [at: number, program: string, instance: string, boot: string, seq: number];
interface Bucket {
  count: number;
  hash: number;
  chars: number;
}

const MINUTE_MS = 60_000;
/** Lines stamped further ahead than this are refused: they would outlive every retention by age. */
const MAX_AHEAD_MS = 24 * 60 * 60_000;
/** Entries examined per query at most, matching or not: a query never scans the whole store. */
const SCAN_BUDGET = 20_000;
/** Characters per reply at most: even in 4-byte UTF-8 well under the codec's 1 MiB message limit. */
const REPLY_CHARS = 200_000;
/** What a line costs beyond its texts (its other columns and index entries), in characters. */
const LINE_OVERHEAD = 200;
/** Lines deleted per retention transaction: a sweep never holds the write lock for long. */
const PRUNE_BATCH = 5_000;
/** Buckets per digest reply, at most (the protocol's maxItems). */
const DIGEST_BUCKETS = 2_000;
/** pino's levels (protocol defs.json logLevel). */
const LEVELS = [10, 20, 30, 40, 50, 60] as const;
const LOWEST_LEVEL = 10;
/** Synced commits: a line is acknowledged once on disk. */
const SYNC_MODE = { noSync: false, noMetaSync: false, overlappingSync: false } as const;

/**
 * The log service's store (protocol revision 1.5): lines keyed by time and identity (program,
 * instance, boot, seq), so a line stored twice is stored once and every server's copy converges
 * to the union of what it was given. Indexes by program, instance and request id; per-minute
 * buckets (count and hash of identities) for anti-entropy and for retention by size; retention by
 * age and size moves a floor below which nothing is kept or accepted. Its own LMDB environment,
 * apart from the chat store, so a flood of lines never slows a chat write's commit.
 */
export class LogStore {
  readonly #env: RootDatabase;
  readonly #lines: Database<LogRecord, Key>;
  readonly #byProgram: Database<true, Key>;
  readonly #byInstance: Database<true, Key>;
  readonly #byRequest: Database<true, Key>;
  readonly #byLevel: Database<true, Key>;
  readonly #buckets: Database<Bucket, number>;
  readonly #meta: Database<number, string>;
  readonly #maxAgeMs: number;
  readonly #maxChars: number;
  readonly #now: () => number;

  constructor(options: LogStoreOptions) {
    mkdirSync(options.path, { recursive: true });
    this.#env = open({ path: options.path, compression: false, maxDbs: 8, ...SYNC_MODE });
    this.#lines = this.#env.openDB({ name: 'lines' });
    this.#byProgram = this.#env.openDB({ name: 'by-program' });
    this.#byInstance = this.#env.openDB({ name: 'by-instance' });
    this.#byRequest = this.#env.openDB({ name: 'by-request' });
    this.#byLevel = this.#env.openDB({ name: 'by-level' });
    this.#buckets = this.#env.openDB({ name: 'buckets' });
    this.#meta = this.#env.openDB({ name: 'meta' });
    this.#maxAgeMs = options.maxAgeMs ?? 7 * 24 * 60 * 60_000;
    this.#maxChars = options.maxChars ?? 500_000_000;
    this.#now = options.now ?? Date.now;
  }

  /** Lines before this time are not kept (retention). */
  get floor(): number {
    return Math.max(this.#meta.get('floor') ?? 0, this.#now() - this.#maxAgeMs);
  }

  /** Characters held, by the store's own count (what retention by size bounds). */
  get chars(): number {
    return this.#meta.get('chars') ?? 0;
  }

  get lines(): number {
    return this.#meta.get('lines') ?? 0;
  }

  /** Stores lines not held yet; resolves once durable. */
  async store(records: readonly LogRecord[]): Promise<StoreOutcome> {
    const floor = this.floor;
    const ceiling = this.#now() + MAX_AHEAD_MS;
    return this.#env.transaction(() => {
      const touched = new Map<number, Bucket>();
      let stored = 0;
      let duplicates = 0;
      let refused = 0;
      let chars = 0;
      for (const record of records) {
        if (record.at < floor || record.at > ceiling) {
          refused++;
          continue;
        }
        const key = lineKey(record);
        if (this.#lines.doesExist(key)) {
          duplicates++;
          continue;
        }
        const size = recordChars(record);
        this.#lines.put(key, record);
        this.#byProgram.put([record.program, ...key], true);
        this.#byInstance.put([record.instance, ...key], true);
        this.#byLevel.put([record.level, ...key], true);
        if (record.request_id !== undefined) this.#byRequest.put([record.request_id, ...key], true);
        addToBucket(touched, key, size);
        chars += size;
        stored++;
      }
      // Each minute's bucket is read and written once a batch, not once a line.
      for (const [minute, delta] of touched) {
        const bucket = this.#buckets.get(minute) ?? { count: 0, hash: 0, chars: 0 };
        this.#buckets.put(minute, { count: bucket.count + delta.count, hash: (bucket.hash ^ delta.hash) >>> 0, chars: bucket.chars + delta.chars });
      }
      if (stored > 0) {
        this.#meta.put('chars', this.chars + chars);
        this.#meta.put('lines', this.lines + stored);
      }
      return { stored, duplicates, refused };
    });
  }

  /**
   * One page of matching lines, `asc` from `since` or `desc` from `until`; a query examines at
   * most SCAN_BUDGET entries and returns at most `limit` lines, with `next` when more may match.
   * The cursor is `<order>:<at>:<n>`: resume at time `at`, past the first `n` entries of that time.
   */
  query(filter: LogFilter, order: 'asc' | 'desc', limit: number, after?: string): LogPage {
    const resume = parseCursor(after, order);
    const low = Math.max(filter.since ?? 0, 0);
    const high = filter.until ?? Number.MAX_SAFE_INTEGER;
    const start = resume?.at ?? (order === 'asc' ? low : high);
    const range = (prefix: readonly unknown[]) =>
      order === 'asc'
        ? { start: [...prefix, start], end: [...prefix, high] }
        : { start: [...prefix, resume === undefined ? start : start + 1], end: [...prefix, low], reverse: true };
    const lines: LogRecord[] = [];
    let chars = 0;
    let examined = 0;
    let lastAt = -1;
    let atCount = 0;
    let skip = resume?.n ?? 0;
    let exhausted = true;
    for (const lineKeyParts of this.#candidates(filter, order, range)) {
      const at = lineKeyParts[0];
      if (order === 'desc' && at >= high) continue; // `until` is exclusive
      if (resume !== undefined && at === resume.at && skip > 0) {
        skip--;
        lastAt = at;
        atCount++;
        continue;
      }
      if (examined >= SCAN_BUDGET || lines.length >= limit || chars >= REPLY_CHARS) {
        exhausted = false;
        break;
      }
      examined++;
      atCount = at === lastAt ? atCount + 1 : 1;
      lastAt = at;
      const line = this.#lines.get(lineKeyParts);
      if (line === undefined || !matches(line, filter)) continue;
      lines.push(line);
      chars += recordChars(line);
    }
    return exhausted ? { lines } : { lines, next: `${order === 'asc' ? 'a' : 'd'}:${lastAt}:${atCount}` };
  }

  /** Per-minute counts and hashes from `since` (anti-entropy), at most DIGEST_BUCKETS, with where to go on. */
  digest(since: number, until = Number.MAX_SAFE_INTEGER): { floor: number; buckets: LogBucket[]; next?: number } {
    const floor = this.floor;
    const buckets: LogBucket[] = [];
    const from = Math.floor(Math.max(since, floor) / MINUTE_MS);
    const to = Math.ceil(until / MINUTE_MS);
    for (const { key, value } of this.#buckets.getRange({ start: from, end: to })) {
      if (buckets.length === DIGEST_BUCKETS) return { floor, buckets, next: key * MINUTE_MS };
      if (value.count > 0) buckets.push(wireBucket(key, value));
    }
    return { floor, buckets };
  }

  /** One minute's count and hash, as `digest` reports them; undefined when no line of it is held. */
  bucket(minute: number): LogBucket | undefined {
    const bucket = this.#buckets.get(minute);
    return bucket === undefined || bucket.count === 0 ? undefined : wireBucket(minute, bucket);
  }

  /**
   * Deletes what retention no longer keeps: whole minutes older than the age limit, then the
   * oldest minutes while over the size limit. At most PRUNE_BATCH lines per call; returns how many
   * went (call again while it returns PRUNE_BATCH).
   */
  async prune(): Promise<number> {
    return this.#env.transaction(() => {
      let deleted = 0;
      let chars = this.chars;
      const ageFloorMinute = Math.floor((this.#now() - this.#maxAgeMs) / MINUTE_MS);
      let floor = this.#meta.get('floor') ?? 0;
      for (const { key: minute, value } of this.#buckets.getRange({})) {
        const expired = minute < ageFloorMinute;
        if (!expired && chars <= this.#maxChars) break;
        if (deleted + value.count > PRUNE_BATCH && deleted > 0) break;
        // Keys first, then removals: a range is not changed while it is read.
        const keys = [...this.#lines.getKeys({ start: [minute * MINUTE_MS], end: [(minute + 1) * MINUTE_MS] })];
        for (const key of keys) {
          const record = this.#lines.get(key)!;
          this.#lines.remove(key);
          this.#byProgram.remove([record.program, ...(key as LineKey)]);
          this.#byInstance.remove([record.instance, ...(key as LineKey)]);
          this.#byLevel.remove([record.level, ...(key as LineKey)]);
          if (record.request_id !== undefined) this.#byRequest.remove([record.request_id, ...(key as LineKey)]);
          deleted++;
        }
        chars -= value.chars;
        this.#buckets.remove(minute);
        floor = Math.max(floor, (minute + 1) * MINUTE_MS);
      }
      if (deleted > 0 || floor !== (this.#meta.get('floor') ?? 0)) {
        this.#meta.put('floor', floor);
        this.#meta.put('chars', Math.max(0, chars));
        this.#meta.put('lines', Math.max(0, this.lines - deleted));
      }
      return deleted;
    });
  }

  async close(): Promise<void> {
    await this.#env.close();
  }

  /**
   * The keys of the lines a query examines, in its order: from the narrowest index its filter
   * allows (request id, instance, program), else, with a level, the level index merged across the
   * levels it takes (by line key, so the order is the lines' own), else every line.
   */
  #candidates(filter: LogFilter, order: 'asc' | 'desc', range: (prefix: readonly unknown[]) => object): Iterable<LineKey> {
    const keysOf = (db: Database<true, Key> | Database<LogRecord, Key>, prefix: readonly unknown[]): Iterable<LineKey> =>
      (db as Database<unknown, Key>).getKeys(range(prefix) as never).map((key) => (key as unknown[]).slice(prefix.length) as LineKey);
    if (filter.requestId !== undefined) return keysOf(this.#byRequest, [filter.requestId]);
    if (filter.instance !== undefined) return keysOf(this.#byInstance, [filter.instance]);
    if (filter.program !== undefined) return keysOf(this.#byProgram, [filter.program]);
    if (filter.minLevel !== undefined && filter.minLevel > LOWEST_LEVEL) {
      const levels = LEVELS.filter((level) => level >= filter.minLevel!);
      return mergeSorted(levels.map((level) => keysOf(this.#byLevel, [level])), order === 'asc' ? compareKeys : (a, b) => compareKeys(b, a));
    }
    return keysOf(this.#lines, []);
  }

}

/** Adds a line to its minute's change in `touched`. */
function addToBucket(touched: Map<number, Bucket>, key: LineKey, chars: number): void {
  const minute = Math.floor(key[0] / MINUTE_MS);
  const delta = touched.get(minute) ?? { count: 0, hash: 0, chars: 0 };
  touched.set(minute, { count: delta.count + 1, hash: (delta.hash ^ identityHash(key)) >>> 0, chars: delta.chars + chars });
}

function wireBucket(minute: number, bucket: Bucket): LogBucket {
  return { minute, count: bucket.count, hash: (bucket.hash >>> 0).toString(16).padStart(8, '0') };
}

/** Line keys in LMDB's order: time, then program, instance, boot (as strings), then seq. */
function compareKeys(a: LineKey, b: LineKey): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** The items of sorted iterables, merged in `compare` order (a handful of sources: a linear pick each step). */
function* mergeSorted<T>(sources: Iterable<T>[], compare: (a: T, b: T) => number): Generator<T> {
  const iterators = sources.map((source) => source[Symbol.iterator]());
  const heads = iterators.map((iterator) => iterator.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      if (heads[i]!.done) continue;
      if (best < 0 || compare(heads[i]!.value as T, heads[best]!.value as T) < 0) best = i;
    }
    if (best < 0) return;
    yield heads[best]!.value as T;
    heads[best] = iterators[best]!.next();
  }
}

function lineKey(record: LogRecord): LineKey {
  return [record.at, record.program, record.instance, record.boot, record.seq];
}

function matches(line: LogRecord, filter: LogFilter): boolean {
  return (
    (filter.program === undefined || line.program === filter.program) &&
    (filter.instance === undefined || line.instance === filter.instance) &&
    (filter.requestId === undefined || line.request_id === filter.requestId) &&
    (filter.minLevel === undefined || line.level >= filter.minLevel) &&
    (filter.since === undefined || line.at >= filter.since) &&
    (filter.until === undefined || line.at < filter.until) &&
    (filter.contains === undefined || line.msg.includes(filter.contains))
  );
}

function recordChars(record: LogRecord): number {
  return LINE_OVERHEAD + record.msg.length + (record.fields?.length ?? 0);
}

/** FNV-1a (32 bits) of a line's identity: XORed into its minute's bucket hash. */
function identityHash(key: LineKey): number {
  let hash = 0x811c9dc5;
  const text = key.join('\u0000');
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A cursor this store issued for the same order; BAD_REQUEST for any other. */
function parseCursor(cursor: string | undefined, order: 'asc' | 'desc'): { at: number; n: number } | undefined {
  if (cursor === undefined) return undefined;
  const match = /^([ad]):(\d{1,16}):(\d{1,9})$/.exec(cursor);
  const at = Number(match?.[2]);
  if (match === null || match[1] !== (order === 'asc' ? 'a' : 'd') || !Number.isSafeInteger(at)) {
    throw new BadRequestError(`after: ${JSON.stringify(cursor)} is not the next cursor of a ${order} query; pass back the \`next\` of the previous page unchanged, with the same order`, { data: { after: cursor } });
  }
  return { at, n: Number(match[3]) };
}
