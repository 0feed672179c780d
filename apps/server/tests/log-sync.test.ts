// LogSync against a peer that never stops answering: a digest saying a minute differs, then
// empty pages that always carry a cursor. A round still ends, after a bounded number of requests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LogStore } from '../src/logs/LogStore.js';
import { LogSync } from '../src/logs/LogSync.js';

describe('LogSync', () => {
  it('ends a round with a peer that answers endless empty pages with a cursor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'correio-log-sync-'));
    const store = new LogStore({ path: dir });
    let queries = 0;
    const sync = new LogSync({
      store,
      peers: () => ['endless'],
      logger: pino({ level: 'silent' }),
      intervalMs: 60_000,
      request: (async (_peer: string, type: string) => {
        if (type === 'logs.digest.request') return { server: 'endless', floor: 0, buckets: [{ minute: Math.floor(Date.now() / 60_000), count: 1, hash: '00000001' }] };
        queries++;
        return { server: 'endless', lines: [], next: 'a:1:1' };
      }) as never,
    });
    try {
      sync.start();
      const deadline = Date.now() + 20_000;
      while (sync.stats.rounds === 0 || queries === 0) {
        if (Date.now() > deadline) throw new Error('no round');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Before stop: the round must end on its own (an unbounded one would never yield to this timer).
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(queries).toBeLessThanOrEqual(100);
      const settled = queries;
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(queries).toBe(settled);
      await sync.stop();
      expect(sync.stats.fetched).toBe(0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
