import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RefHeartbeatReply, RefRegisterReply } from '@correio/protocol';
import { InMemoryRegistryStore, ServerRegistry, STATE_FILE, type Instant } from '@correio/ref';
import { readMetric } from '@correio/testing';
import { RequestClient } from '@correio/transport';
import { startInfrastructure, startRefProcess, tearDownTest, tempDataDir, type Infrastructure } from './support/infrastructure.js';

// Servers that stop heartbeating leave the list 100 × 30 + 300 ms after their last word: room for
// honest heartbeats that wait behind registrations (the reference server serves one request at a time).
const TIMING = { heartbeatMs: 100, misses: 30 };
const MAX_KNOWN = 1000;
const ATTACKER_IDS = 2000;
/** Registrations the attacker keeps in flight. */
const ATTACK_BATCH = 5;

let infra: Infrastructure | undefined;
const clients: RequestClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await tearDownTest();
});

function requestClient(from: string): RequestClient {
  const client = new RequestClient({ endpoint: infra!.broker, from, maxInFlight: 100 });
  clients.push(client);
  return client;
}

/** Registers `server`; OVERLOADED (the list is full until dead servers leave) is retried, as every client of the reference server does. */
async function register(client: RequestClient, server: string): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return ((await client.request('ref', 'ref.register.request', { server }, { timeout: 10_000 })).body as RefRegisterReply).rank;
    } catch (error) {
      if ((error as { code?: string }).code !== 'OVERLOADED' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function stateFile(dataDir: string): { nextRank: number; servers: { server: string; rank: number; listed: boolean }[] } {
  return JSON.parse(readFileSync(join(dataDir, STATE_FILE), 'utf8')) as ReturnType<typeof stateFile>;
}

describe('reference server --max-known (child process, real sockets)', () => {
  it('forgets the unlisted ids an attacker registers, keeps honest servers and their ranks, and never issues a rank twice', async () => {
    infra = await startInfrastructure();
    const dataDir = tempDataDir();
    let ref = await startRefProcess(infra, dataDir, TIMING, ['--remove-after', '300', '--max-known', String(MAX_KNOWN), '--http-port', '0']);
    const http = /http=(\S+)/.exec(ref.lines[0]!)![1]!;

    // Two honest servers register first and heartbeat all along.
    const honest = requestClient('honest');
    const ranks = { 'honest-a': await register(honest, 'honest-a'), 'honest-b': await register(honest, 'honest-b') };
    expect(ranks).toEqual({ 'honest-a': 1, 'honest-b': 2 });
    const unknownHeartbeats: string[] = [];
    let beating = true;
    const heartbeats = (async () => {
      while (beating) {
        await Promise.all(
          Object.entries(ranks).map(async ([server, rank]) => {
            const reply = (await honest.request('ref', 'ref.heartbeat.request', { server, rank }, { timeout: 10_000 })).body as RefHeartbeatReply;
            if (!reply.known) unknownHeartbeats.push(server);
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, TIMING.heartbeatMs));
      }
    })();

    // A raw client registers thousands of ids and never heartbeats: each leaves the list, then is forgotten.
    const attacker = requestClient('attacker');
    const attackerRanks = new Map<string, number>();
    for (let next = 0; next < ATTACKER_IDS; next += ATTACK_BATCH) {
      const batch = Array.from({ length: Math.min(ATTACK_BATCH, ATTACKER_IDS - next) }, (_, i) => `attacker-${next + i}`);
      const got = await Promise.all(batch.map((server) => register(attacker, server)));
      batch.forEach((server, i) => attackerRanks.set(server, got[i]!));
    }
    beating = false;
    await heartbeats;
    expect(unknownHeartbeats).toEqual([]);

    // Every rank handed out is distinct and above the honest ones.
    expect(new Set(attackerRanks.values()).size).toBe(ATTACKER_IDS);
    expect(Math.min(...attackerRanks.values())).toBe(3);
    const state = stateFile(dataDir);
    expect(state.nextRank).toBe(ATTACKER_IDS + 3);
    expect(state.servers.length).toBeLessThanOrEqual(MAX_KNOWN);
    expect(state.servers.filter((s) => s.server.startsWith('honest-')).map((s) => [s.server, s.rank, s.listed])).toEqual([
      ['honest-a', 1, true],
      ['honest-b', 2, true],
    ]);
    expect(await readMetric(http, 'correio_ref_servers_known')).toBeLessThanOrEqual(MAX_KNOWN);
    expect(await readMetric(http, 'correio_ref_servers_forgotten')).toBe(ATTACKER_IDS + 2 - state.servers.length);

    // A forgotten id comes back with a new rank; the honest servers keep theirs, across a restart too.
    expect(state.servers.some((s) => s.server === 'attacker-0')).toBe(false);
    expect(await register(attacker, 'attacker-0')).toBe(ATTACKER_IDS + 3);
    ref.kill('SIGTERM');
    expect((await ref.exited).code).toBe(0);
    ref = await startRefProcess(infra, dataDir, TIMING, ['--remove-after', '300', '--max-known', String(MAX_KNOWN)]);
    expect(ref.lines[0]).toContain(`next-rank=${ATTACKER_IDS + 4}`);
    expect(await register(honest, 'honest-a')).toBe(1);
    expect(await register(honest, 'honest-b')).toBe(2);
  }, 180_000);
});

describe('ServerRegistry maxKnown (in memory)', () => {
  const at = (ms: number): Instant => ({ mono: ms, wall: 1_700_000_000_000 + ms });
  const options = (store: InMemoryRegistryStore, maxKnown: number, maxListed = 2) => ({ store, heartbeatIntervalMs: 100, misses: 1, removeAfterMs: 100, maxListed, maxKnown });

  it('forgets the unlisted server seen longest ago, in the save that records the new one, and never a listed one', () => {
    const store = new InMemoryRegistryStore();
    const registry = new ServerRegistry(options(store, 3, 3), at(0));
    registry.register('old', {}, at(0));
    registry.register('newer', {}, at(10));
    // Both silent: down after 100 ms, gone from the list 100 ms later, in one save.
    registry.tick(at(150));
    const saves = store.saves;
    expect(registry.tick(at(260)).events.map((e) => [e.server, e.state])).toEqual([
      ['old', 'left'],
      ['newer', 'left'],
    ]);
    expect(store.saves).toBe(saves + 1);
    registry.register('listed', {}, at(300));
    expect(registry.counts).toMatchObject({ known: 3, listed: 1 });
    expect(registry.register('fresh', {}, at(400))).toMatchObject({ rank: 4, created: true });
    expect(store.load()!.servers.map((s) => s.server)).toEqual(['newer', 'listed', 'fresh']);
    expect(registry.forgotten).toBe(1);
    // The forgotten server comes back as new: a new rank, never an issued one.
    expect(registry.register('old', {}, at(500))).toMatchObject({ rank: 5, created: true });
    expect(store.load()!.servers.map((s) => s.server)).toEqual(['listed', 'fresh', 'old']);
  });

  it('shrinks a registry saved under a larger bound, keeping listed servers and the next rank', () => {
    const store = new InMemoryRegistryStore();
    const big = new ServerRegistry(options(store, 10), at(0));
    for (const [i, server] of ['a', 'b', 'c', 'd'].entries()) {
      big.register(server, {}, at(i * 1000));
      big.tick(at(i * 1000 + 150));
      big.tick(at(i * 1000 + 300));
    }
    big.register('listed', {}, at(10_000));
    const small = new ServerRegistry(options(store, 2), at(10_000));
    expect(small.counts).toMatchObject({ known: 2, listed: 1 });
    expect(small.forgotten).toBe(3);
    expect(small.nextRank).toBe(6);
    expect(small.register('d', {}, at(10_001)).rank).toBe(4);
    expect(() => new ServerRegistry(options(store, 1), at(0))).toThrow(RangeError);
  });
});
