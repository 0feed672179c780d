import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createWriteTrace, traceWrite } from '@correio/observability';

const scratch = mkdtempSync(join(tmpdir(), 'correio-write-trace-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('write tracing', () => {
  it('is off (undefined, nothing to call) unless CORREIO_TRACE_WRITES names a directory', () => {
    expect(traceWrite === undefined).toBe(!process.env.CORREIO_TRACE_WRITES);
  });

  it('appends "<epoch ms> <hop> <key> [detail]" lines to <dir>/trace-<pid>.log, on the shared epoch clock', () => {
    const dir = join(scratch, 'trace');
    const trace = createWriteTrace(dir);
    const before = Date.now();
    trace('broker.request', 'w-1', 'chat', performance.now());
    for (let i = 0; i < 511; i++) trace('worker.received', `w-${i}`); // the 512th line flushes
    const lines = readFileSync(join(dir, `trace-${process.pid}.log`), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(512);
    const [at, hop, key, detail] = lines[0]!.split(' ');
    expect([hop, key, detail]).toEqual(['broker.request', 'w-1', 'chat']);
    expect(Number(at)).toBeGreaterThanOrEqual(before - 5);
    expect(Number(at)).toBeLessThanOrEqual(Date.now() + 5);
    expect(lines[511]!.split(' ').slice(1)).toEqual(['worker.received', 'w-510']);
  });
});
