// Which origins a server stores replicated operations from, and what a refusal sets off: the list is
// read again for a server that may have just joined, but a flood of forged origins asks for it at
// most once a second.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Operation } from '@correio/protocol';
import { OriginAdmission } from '../src/replication/OriginAdmission.js';

function op(origin: string): Operation {
  return { op: { origin, seq: 1 }, lc: 1, hlc: [1, 0], kind: 'login', data: { user: 'ana' } };
}

describe('OriginAdmission', () => {
  it('admits its own, listed and held origins; asks for the list again at most once a second however many are refused', async () => {
    const unlisted: string[][] = [];
    let refused = 0;
    const admission = new OriginAdmission({
      self: 's1',
      members: () => ['s2'],
      held: (origin) => origin === 'old',
      logger: pino({ level: 'silent' }),
      onRefused: (count) => (refused += count),
      onUnlisted: (origins) => unlisted.push([...origins]),
    });
    expect(admission.admit([op('s1'), op('s2'), op('old')], 'test')).toHaveLength(3);
    for (let i = 0; i < 1_000; i++) expect(admission.admit([op(`forged-${i}`), op('s2')], 'test')).toEqual([op('s2')]);
    expect(refused).toBe(1_000);
    expect(unlisted).toEqual([['forged-0']]);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    admission.admit([op('new')], 'test');
    expect(unlisted).toEqual([['forged-0'], ['new']]);
  });

  it('a live server not listed yet is said at info, and does not hold back the warning about a made-up origin', () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) });
    const admission = new OriginAdmission({
      self: 's1',
      members: () => [],
      held: () => false,
      heardOf: (origin) => origin === 's2',
      logger,
      onRefused: () => undefined,
    });
    admission.admit([op('s2')], 'test');
    admission.admit([op('s2')], 'test');
    admission.admit([op('made-up')], 'test');
    admission.admit([op('made-up-too')], 'test');
    expect(lines.map(({ level, msg }) => [level, msg.split(' ').slice(0, 6).join(' ')])).toEqual([
      [30, 'replicated operations from live servers this'],
      [40, 'replicated operations from origins the cluster'],
    ]);
  });
});
