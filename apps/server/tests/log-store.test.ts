// The log service's store on its own: queries by every index page through every matching line
// once (many lines in one millisecond included), the level index merged in the lines' own order,
// bounded scans that hand back a cursor, retention by age and by size with its floor, and the
// per-minute digests anti-entropy compares.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '@correio/protocol';
import { LogStore, type LogFilter } from '../src/logs/LogStore.js';

const T0 = 1_796_000_000_000;
const LEVELS = [10, 20, 30, 40, 50, 60] as const;
const opened: Array<{ store: LogStore; dir: string }> = [];
afterEach(async () => {
  for (const { store, dir } of opened.splice(0)) {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

function openStore(options: { maxAgeMs?: number; maxChars?: number; now?: () => number } = {}): LogStore {
  const dir = mkdtempSync(join(tmpdir(), 'correio-log-store-'));
  const store = new LogStore({ path: dir, now: () => T0 + 60_000, ...options });
  opened.push({ store, dir });
  return store;
}

function record(seq: number, at: number, extra: Partial<LogRecord> = {}): LogRecord {
  return { program: 'server', instance: `srv-${(seq % 3) + 1}`, boot: 'bootboot', seq, at, level: LEVELS[seq % 6]!, msg: `line ${seq}`, ...extra };
}

/** Every line a query returns, page after page (bounded). */
function everyLine(store: LogStore, filter: LogFilter, order: 'asc' | 'desc', limit: number): LogRecord[] {
  const lines: LogRecord[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const result = store.query(filter, order, limit, after);
    lines.push(...result.lines);
    if (result.next === undefined) return lines;
    after = result.next;
  }
  throw new Error('too many pages');
}

describe('LogStore', () => {
  it('pages through every matching line once, in order, by every index, many lines of one millisecond included', async () => {
    const store = openStore();
    // 2,000 lines over 200 ms: ten per millisecond.
    const all = Array.from({ length: 2_000 }, (_, i) => record(i + 1, T0 + Math.floor(i / 10), i % 50 === 0 ? { request_id: `req-${i % 7}` } : {}));
    expect(await store.store(all)).toEqual({ stored: 2_000, duplicates: 0, refused: 0 });
    expect(await store.store(all.slice(0, 10))).toEqual({ stored: 0, duplicates: 10, refused: 0 });
    const seqs = (lines: LogRecord[]) => lines.map((line) => line.seq);
    const expected = (keep: (line: LogRecord) => boolean) => seqs(all.filter(keep).sort((a, b) => a.at - b.at || a.instance.localeCompare(b.instance) || a.seq - b.seq));
    const filters: Array<[LogFilter, (line: LogRecord) => boolean]> = [
      [{}, () => true],
      [{ minLevel: 40 }, (line) => line.level >= 40],
      [{ minLevel: 60 }, (line) => line.level === 60],
      [{ instance: 'srv-2', minLevel: 30 }, (line) => line.instance === 'srv-2' && line.level >= 30],
      [{ program: 'server', since: T0 + 50, until: T0 + 51 }, (line) => line.at === T0 + 50],
      [{ requestId: 'req-3' }, (line) => line.request_id === 'req-3'],
      [{ contains: 'line 19', minLevel: 20 }, (line) => line.msg.includes('line 19') && line.level >= 20],
    ];
    for (const [filter, keep] of filters) {
      const want = expected(keep);
      expect(seqs(everyLine(store, filter, 'asc', 7)), JSON.stringify(filter)).toEqual(want);
      expect(seqs(everyLine(store, filter, 'desc', 13)), JSON.stringify(filter)).toEqual([...want].reverse());
    }
    expect(() => store.query({}, 'asc', 10, 'd:1:1')).toThrow(/next cursor of a asc query/);
  });

  it('stops a scan after 20,000 entries with a cursor, so a rare match costs pages, not one unbounded read', async () => {
    const store = openStore();
    const noise = Array.from({ length: 25_000 }, (_, i) => record(i + 1, T0 + i, { level: 20 }));
    await store.store([...noise, record(99_999, T0 + 24_999, { level: 20, msg: 'the needle' })]);
    const first = store.query({ contains: 'needle' }, 'asc', 10);
    expect(first.lines).toEqual([]);
    expect(first.next).toBeDefined();
    expect(store.query({ contains: 'needle' }, 'asc', 10, first.next).lines.map((line) => line.msg)).toEqual(['the needle']);
  });

  it('keeps lines by age and by size, with a floor below which nothing is kept or accepted again', async () => {
    let now = T0 + 60_000;
    const store = openStore({ maxAgeMs: 10 * 60_000, maxChars: 1_000_000, now: () => now });
    // Three minutes of lines, 100 a minute.
    await store.store(Array.from({ length: 300 }, (_, i) => record(i + 1, T0 + Math.floor(i / 100) * 60_000 + (i % 100))));
    expect(store.lines).toBe(300);
    const minute0 = Math.floor(T0 / 60_000);
    expect(store.digest(0).buckets.map((bucket) => bucket.count)).toEqual([100, 100, 100]);
    expect(store.bucket(minute0)).toEqual(store.digest(0).buckets[0]);
    now = T0 + 11 * 60_000 + 1; // the first minute is now older than ten minutes
    expect(await store.prune()).toBe(100);
    expect(store.lines).toBe(200);
    expect(store.bucket(minute0)).toBeUndefined();
    expect(store.floor).toBeGreaterThanOrEqual(T0 + 60_000);
    expect(await store.store([record(1_000, T0 + 5)])).toEqual({ stored: 0, duplicates: 0, refused: 1 });
    expect(await store.store([record(1_001, now + 2 * 86_400_000)])).toEqual({ stored: 0, duplicates: 0, refused: 1 });

    const small = openStore({ maxChars: 250 * 150, now: () => T0 + 5 * 60_000 });
    await small.store(Array.from({ length: 300 }, (_, i) => record(i + 1, T0 + Math.floor(i / 100) * 60_000 + (i % 100))));
    // Over its size: the oldest whole minutes go until it fits.
    expect(await small.prune()).toBe(200);
    expect(everyLine(small, {}, 'asc', 1000).map((line) => line.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 201 + i));
    expect(small.digest(0).floor).toBe((Math.floor(T0 / 60_000) + 2) * 60_000);
  });

  it('reports per-minute digests that differ exactly when the lines of that minute do', async () => {
    const a = openStore();
    const b = openStore();
    const lines = Array.from({ length: 50 }, (_, i) => record(i + 1, T0 + i * 3_000));
    await a.store(lines);
    await b.store([...lines].reverse());
    expect(b.digest(0)).toEqual(a.digest(0));
    await b.store([record(77, T0 + 1)]);
    const differing = b.digest(0).buckets.filter((bucket, i) => JSON.stringify(bucket) !== JSON.stringify(a.digest(0).buckets[i]));
    expect(differing.map((bucket) => bucket.minute)).toEqual([Math.floor((T0 + 1) / 60_000)]);
  });
});
