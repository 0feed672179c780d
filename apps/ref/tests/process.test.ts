import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '@correio/testing';
import { startInfrastructure, startRefProcess, tearDownTest, tempDataDir, type Infrastructure } from './support/infrastructure.js';

let infra: Infrastructure | undefined;

afterEach(tearDownTest);

describe('correio-ref process', () => {
  it('prints its readiness line, serves /health and /metrics, and exits 0 on SIGTERM, releasing its data directory', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    const ref = await startRefProcess(infra, dataDir, { heartbeatMs: 500, misses: 3 }, ['--http-port', '0', '--id', 'ref-test']);
    const ready = ref.lines[0]!;
    expect(ready).toMatch(new RegExp(`^ref ready ref-test data=${dataDir} next-rank=1 http=http://127\\.0\\.0\\.1:\\d+$`));
    const http = /http=(\S+)/.exec(ready)![1]!;
    // Ready once its worker has connected to the broker.
    let health: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 100 && health['ready'] !== true; attempt++) {
      health = (await (await fetch(`${http}/health`)).json()) as Record<string, unknown>;
      if (health['ready'] !== true) await sleep(50);
    }
    expect(health).toMatchObject({ ready: true, status: 'ok', broker: 'connected', servers: 0, nextRank: 1, coordinator: null });
    const metrics = await (await fetch(`${http}/metrics`)).text();
    expect(metrics).toContain('correio_ref_ranks_issued 0');
    expect(metrics).toContain('correio_ref_servers{state="alive"} 0');
    expect(existsSync(join(dataDir, 'ref.lock'))).toBe(true);

    ref.kill('SIGTERM');
    expect(await ref.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(join(dataDir, 'ref.lock'))).toBe(false);
    expect(ref.stderr).toBe(''); // quiet by default
  });

  it('exits 1 with one clear line when its state file is damaged', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    writeFileSync(join(dataDir, 'registry.json'), '{"format":"correio-ref/1","nextRank":');
    await expect(startRefProcess(infra, dataDir, { heartbeatMs: 500, misses: 3 })).rejects.toThrow(/correio-ref: .*registry\.json: not valid JSON/);
  });
});
