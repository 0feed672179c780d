// bench:logs's own checks over real sockets, against a broker, proxy, ref and one chat server run
// as the benchmark runs them: the verifier that reads every line back counts lines the server
// holds, misses and holds twice over many pages (many lines of one millisecond, so the cursor's
// `<at>:<n>` resumption is exercised); and two of the benchmark's shipping programs report every
// line acknowledged, none dropped, and the verifier finds each of them.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import type { Topology } from '../src/e2e/topology.js';
import { startLogService } from '../src/logs/cluster.js';
import { spawnFleet } from '../src/logs/fleet.js';
import { countLines, verifyStored } from '../src/logs/verify.js';

const scratch = scratchDir('correio-bench-logs-');
let topology: Topology;
let client: RequestClient;

beforeAll(async () => {
  topology = await startLogService(1, scratch.dir);
  client = new RequestClient({ endpoint: topology.broker, from: 'bench-logs-test', timeout: 10_000 });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await topology?.stop();
  scratch.remove();
});

/** Ships lines numbered `seqs` of `instance` in batches of at most 1,000, about 700 to a millisecond from `at`. */
async function ship(instance: string, boot: string, seqs: readonly number[], at: number): Promise<void> {
  for (let start = 0; start < seqs.length; start += 1000) {
    const lines = seqs.slice(start, start + 1000).map((seq) => ({ seq, at: at + Math.floor(seq / 700), level: 30 as const, msg: `line ${seq}` }));
    await client.request('logs', 'logs.ship.request', { program: 'bench', instance, boot, lines: lines as [(typeof lines)[0], ...typeof lines] });
  }
}

describe('bench:logs', () => {
  it('counts the lines a server holds, misses and returns beyond those sent, across pages', async () => {
    const gappy = `gappy-${randomBytes(4).toString('hex')}`;
    const whole = `whole-${randomBytes(4).toString('hex')}`;
    // 1..2,500 but 700..709, and a line 2,501 beyond the 2,500 "sent" (as a drop notice would be).
    const gappySeqs = Array.from({ length: 2501 }, (_, n) => n + 1).filter((seq) => seq < 700 || seq > 709);
    const at = Date.now();
    await ship(gappy, 'boot-aaaa', gappySeqs, at);
    // Sent twice under one boot: stored once. Then once more under another boot: held twice.
    const wholeSeqs = Array.from({ length: 1500 }, (_, n) => n + 1);
    await ship(whole, 'boot-bbbb', wholeSeqs, at);
    await ship(whole, 'boot-bbbb', wholeSeqs, at);
    await ship(whole, 'boot-cccc', wholeSeqs.slice(0, 30), at);

    const { byService, lost } = await verifyStored(client, ['srv.s1'], new Map([[gappy, 2500], [whole, 1500]]));
    expect(byService.get('srv.s1')).toEqual([
      { instance: gappy, returned: 2491, held: 2490, missing: 10, extra: 1 },
      { instance: whole, returned: 1530, held: 1500, missing: 0, extra: 30 },
    ]);
    expect(lost).toBe(10);
  }, 60_000);

  it('counts each line number from 1 to sent once, and repeats and other numbers as extra', () => {
    expect(countLines('x', [1, 2, 2, 5, 0, 9], 5)).toEqual({ instance: 'x', returned: 6, held: 3, missing: 2, extra: 3 });
  });

  it("runs shipping programs whose every line is acknowledged, none dropped, and found on the server", async () => {
    const prefix = `fleet-${randomBytes(4).toString('hex')}`;
    const marks: string[] = [];
    const fleet = spawnFleet({ mode: 'ship', programs: 2, lines: 1200, rate: 0, instancePrefix: prefix, stdout: 'null' });
    const results = await fleet.run(topology.broker, { go: () => marks.push('go'), done: () => marks.push('done') }).finally(() => fleet.stop());
    expect(marks).toEqual(['go', 'done']);
    expect(results.map(({ instance, lines, shipped, dropped }) => ({ instance, lines, shipped, dropped }))).toEqual([
      { instance: `${prefix}-1`, lines: 1200, shipped: 1200, dropped: 0 },
      { instance: `${prefix}-2`, lines: 1200, shipped: 1200, dropped: 0 },
    ]);
    for (const result of results) {
      expect(result.doneAt).toBeGreaterThanOrEqual(result.loggedAt);
      expect(result.cpuMs).toBeGreaterThan(0);
      expect(result.chars).toBeGreaterThan(1200 * 100); // a message and a few fields a line
    }
    const { byService, lost } = await verifyStored(client, ['srv.s1'], new Map(results.map((result) => [result.instance, result.lines])));
    expect(byService.get('srv.s1')!.map(({ held, missing, extra }) => ({ held, missing, extra }))).toEqual([
      { held: 1200, missing: 0, extra: 0 },
      { held: 1200, missing: 0, extra: 0 },
    ]);
    expect(lost).toBe(0);
  }, 120_000);
});
