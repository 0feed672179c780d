// bench:broker over real processes at a tiny duration: the Correio broker with raw MDP peers in
// both framings (FRAMES.md §1.12) answers requests, and each row carries the CPU per request of
// the broker, the workers and the client. Not a timing check.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAll, spawnCommand } from '@correio/testing';
import { afterAll, describe, expect, it } from 'vitest';

const benchRoot = join(fileURLToPath(import.meta.url), '..', '..');

afterAll(() => killAll());

describe('bench:broker', () => {
  it('measures the Correio broker with classic and with packed MDP peers, CPU per request by process', async () => {
    const run = spawnCommand('bench:broker', process.execPath, [
      '--import', 'tsx', '--conditions=@correio/source', join(benchRoot, 'src', 'brokerBench.ts'),
      '--duration', '300', '--connections', '1', '--systems', 'mdp,mdp-packed', '--outstanding', '1', '--sizes', '64',
    ], { cwd: benchRoot });
    const { code } = await run.exited;
    expect(code, run.stderr).toBe(0);
    const rows = run.lines.filter((line) => line.startsWith('| Correio broker'));
    expect(rows.map((row) => row.split('|')[1]!.trim())).toEqual(['Correio broker (MDP/0.2, classic frames)', 'Correio broker (MDP/0.2, packed frames)']);
    for (const row of rows) {
      const cells = row.split('|').map((cell) => cell.trim());
      expect(Number(cells[5]!.replace(/,/g, '')), row).toBeGreaterThan(0); // requests/s
      const cpu = cells[8]!.split(' / ').map(Number);
      expect(cpu, row).toHaveLength(3);
      for (const us of cpu) expect(us, row).toBeGreaterThan(0);
    }
  }, 90_000);
});
