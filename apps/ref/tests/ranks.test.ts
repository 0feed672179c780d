import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RefRegisterReply, RefServersReply } from '@correio/protocol';
import { STATE_FILE } from '@correio/ref';
import { RequestClient } from '@correio/transport';
import { startInfrastructure, startRefProcess, tearDownTest, tempDataDir, type Infrastructure } from './support/infrastructure.js';

const TIMING = { heartbeatMs: 500, misses: 3 };
let infra: Infrastructure | undefined;
let client: RequestClient | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await tearDownTest();
});

/** Registers `server`. OVERLOADED (a retryable answer) is retried, as every client of the reference server does. */
async function register(server: string, timeout = 3000): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const reply = await client!.request('ref', 'ref.register.request', { server }, { timeout });
      return (reply.body as RefRegisterReply).rank;
    } catch (error) {
      if ((error as { code?: string }).code !== 'OVERLOADED' || attempt >= 5) throw error;
    }
  }
}

async function list(): Promise<RefServersReply> {
  return (await client!.request('ref', 'ref.servers.request', {}, { timeout: 3000, retries: 3 })).body as RefServersReply;
}

describe('reference server ranks (child process, real sockets)', () => {
  it('gives unique ranks from 1, the same rank to the same server, and keeps them across a restart', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    let ref = await startRefProcess(infra, dataDir, TIMING);
    client = new RequestClient({ endpoint: infra.broker, from: 'ranks-test' });
    expect(await register('alpha')).toBe(1);
    expect(await register('beta')).toBe(2);
    expect(await register('alpha')).toBe(1);
    expect(await register('gamma')).toBe(3);
    expect((await list()).servers.map((s) => [s.server, s.rank])).toEqual([
      ['alpha', 1],
      ['beta', 2],
      ['gamma', 3],
    ]);

    ref.kill('SIGTERM'); // graceful this time
    expect((await ref.exited).code).toBe(0);
    ref = await startRefProcess(infra, dataDir, TIMING);
    expect(ref.lines[0]).toContain('next-rank=4');
    expect(await register('gamma', 10_000)).toBe(3);
    expect(await register('delta')).toBe(4);
    expect(await register('beta')).toBe(2);
  });

  it('never issues a rank twice when killed with SIGKILL in the middle of registrations', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    client = new RequestClient({ endpoint: infra.broker, from: 'crash-test', maxInFlight: 100 });
    const servers = Array.from({ length: 240 }, (_, i) => `srv-${i}`);
    /** Every rank any reply ever carried, per server. */
    const acknowledged = new Map<string, number>();
    const remember = (server: string, rank: number) => {
      const before = acknowledged.get(server);
      if (before !== undefined) expect(rank, `${server} changed rank`).toBe(before);
      acknowledged.set(server, rank);
    };

    // Three crash rounds: each registers the servers it has not yet seen acknowledged, eight at a
    // time, and kills the reference server with SIGKILL while registrations are in flight.
    for (let round = 0; round < 3; round++) {
      const ref = await startRefProcess(infra, dataDir, TIMING);
      const todo = servers.filter((server) => !acknowledged.has(server));
      const killAfter = acknowledged.size + Math.floor(todo.length / 3);
      let next = 0;
      let interrupted = 0;
      const workers = Array.from({ length: 8 }, async () => {
        while (next < todo.length && ref.alive) {
          const server = todo[next++]!;
          try {
            remember(server, await register(server, 1500));
          } catch {
            interrupted += 1; // in flight when the process died: unknown outcome, registered again later
          }
          if (acknowledged.size >= killAfter) ref.kill('SIGKILL');
        }
      });
      await Promise.all(workers);
      expect((await ref.exited).signal).toBe('SIGKILL');
      expect(interrupted, 'registrations in flight at the kill').toBeGreaterThan(0);
    }

    // A last run registers everyone (again): acknowledged ranks never change, and ranks are unique and dense.
    const ref = await startRefProcess(infra, dataDir, TIMING);
    for (const server of servers) remember(server, await register(server, 10_000));
    const ranks = servers.map((server) => acknowledged.get(server)!);
    expect(new Set(ranks).size).toBe(servers.length);
    expect([...ranks].sort((a, b) => a - b)).toEqual(servers.map((_, i) => i + 1));
    // The file on disk agrees with what the servers were told.
    const stored = JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as { nextRank: number; servers: { server: string; rank: number }[] };
    expect(stored.nextRank).toBe(servers.length + 1);
    for (const { server, rank } of stored.servers) expect(acknowledged.get(server)).toBe(rank);
    ref.kill('SIGTERM');
    await ref.exited;
  });

  it('refuses to start on a data directory another live reference server holds', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    await startRefProcess(infra, dataDir, TIMING);
    await expect(startRefProcess(infra, dataDir, TIMING)).rejects.toThrow(/in use by process/);
  });
});
