import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinatorTracker, CorruptRegistryError, JsonFileRegistryStore, STATE_FILE } from '@correio/ref';

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'correio-ref-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const snapshot = {
  nextRank: 3,
  servers: [
    { server: 'a', rank: 1, endpoint: 'tcp://a:1', http: 'http://127.0.0.1:9101', registeredAt: 10, lastSeen: 20, listed: true },
    { server: 'b', rank: 2, registeredAt: 11, lastSeen: 21, listed: false },
  ],
};

describe('JsonFileRegistryStore', () => {
  it('round-trips a snapshot through an atomically replaced file', () => {
    const dir = dataDir();
    const store = new JsonFileRegistryStore(dir);
    expect(store.load()).toBeUndefined();
    store.save(snapshot);
    expect(new JsonFileRegistryStore(dir).load()).toEqual(snapshot);
    expect(readdirSync(dir)).toEqual([STATE_FILE]); // no temporary file left behind
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).format).toBe('correio-ref/1');
  });

  it('ignores and removes a temporary file left by a crash mid-write', () => {
    const dir = dataDir();
    new JsonFileRegistryStore(dir).save(snapshot);
    writeFileSync(join(dir, `.${STATE_FILE}.4242.tmp`), '{"format":"correio-ref/1","nextRank":9,"serv');
    const store = new JsonFileRegistryStore(dir);
    expect(store.load()).toEqual(snapshot);
    expect(readdirSync(dir)).toEqual([STATE_FILE]);
  });

  it('refuses a damaged or inconsistent file rather than risk issuing a rank twice', () => {
    const cases: [string, string][] = [
      ['truncated', '{"format":"correio-ref/1","nextRank":3,"servers":[{"ser'],
      ['wrong format', JSON.stringify({ ...snapshot, format: 'something-else' })],
      ['duplicate rank', JSON.stringify({ format: 'correio-ref/1', nextRank: 3, servers: [snapshot.servers[0], { ...snapshot.servers[1], rank: 1 }] })],
      ['duplicate server', JSON.stringify({ format: 'correio-ref/1', nextRank: 3, servers: [snapshot.servers[0], { ...snapshot.servers[1], server: 'a' }] })],
      ['rank not below nextRank', JSON.stringify({ format: 'correio-ref/1', nextRank: 2, servers: snapshot.servers })],
      ['bad rank', JSON.stringify({ format: 'correio-ref/1', nextRank: 3, servers: [{ ...snapshot.servers[0], rank: 0 }] })],
      ['bad http URL', JSON.stringify({ format: 'correio-ref/1', nextRank: 3, servers: [{ ...snapshot.servers[0], http: 'ftp://a' }] })],
    ];
    for (const [what, text] of cases) {
      const dir = dataDir();
      writeFileSync(join(dir, STATE_FILE), text);
      expect(() => new JsonFileRegistryStore(dir).load(), what).toThrow(CorruptRegistryError);
    }
  });
});

describe('CoordinatorTracker', () => {
  it('keeps the announcement with the highest term, then the highest rank', () => {
    const tracker = new CoordinatorTracker();
    expect(tracker.observe({ server: 'b', rank: 2, term: 1 })).toBe(true);
    expect(tracker.observe({ server: 'a', rank: 1, term: 1 })).toBe(false);
    expect(tracker.observe({ server: 'c', rank: 3, term: 1 })).toBe(true);
    expect(tracker.observe({ server: 'b', rank: 2, term: 0 + 1 })).toBe(false);
    expect(tracker.observe({ server: 'b', rank: 2, term: 2 })).toBe(true);
    expect(tracker.current).toEqual({ server: 'b', rank: 2, term: 2 });
  });
});
