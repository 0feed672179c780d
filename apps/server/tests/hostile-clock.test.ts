// Clocks under hostile input, over real processes (broker, proxy, a standalone server): a schema-valid
// request whose lc is near 2^53 − 1 must neither kill the server nor poison its data directory
// (docs/architecture.md, "Clocks and counters under hostile input").
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Operation } from '@correio/protocol';
import { ChatStore } from '@correio/server';
import { readMetric } from '@correio/testing';
import { ChatClient, rawEnvelope } from './helpers/chat.js';
import { clusterHealth } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure } from './helpers/processes.js';

const MAX = Number.MAX_SAFE_INTEGER;
/** No received value lifts a clock above this (protocol LamportBounds): 2^53 − 1 − 2^32. */
const MAX_MERGED = MAX - 2 ** 32;
/** No reference server; `ghost` is a listed peer that never runs, so an operation forged under its id is stored (only listed origins are). */
const STANDALONE = ['--no-ref', '--peers', 'ghost'];

let infra: Infrastructure;
const clients: ChatClient[] = [];
const scratch = fileScratch({ prefix: 'correio-hostile-clock-', closeFirst: () => Promise.all(clients.map((client) => client.close())) });

beforeAll(async () => {
  infra = await startInfrastructure();
}, 60_000);

function client(from: string): ChatClient {
  const created = new ChatClient(infra.broker, from);
  clients.push(created);
  return created;
}

function savedMark(dataDir: string): number {
  return (JSON.parse(readFileSync(join(dataDir, 'lamport.json'), 'utf8')) as { mark: number }).mark;
}

describe('a request whose lc is near 2^53 − 1', () => {
  it('is served, its clock merged only up to the bounds; forged Berkeley and replicated clocks are bounded too; the server keeps serving, persists no exhausted mark, and restarts', async () => {
    const dataDir = join(scratch.dir, 'h1');
    let server = await startServerProcess(infra, 'h1', dataDir, STANDALONE);
    const honest = client('honest-h1');
    await honest.call('chat', 'chat.login.request', { user: 'ana' });

    const attacker = client('attacker-h1');
    const clampedBefore = await readMetric(server.http, 'correio_clock_bounded_inputs', { clock: 'lamport', outcome: 'clamped', input: 'request' });
    const reply = await attacker.raw('chat', rawEnvelope('chat.users.request', {}, { lc: MAX - 1 }));
    expect(reply.type).toBe('chat.users.reply'); // served, not refused: a refusal let an attacker cut honest peers off
    expect(Number.isSafeInteger(reply.lc)).toBe(true);
    expect(reply.lc).toBeLessThan(2 ** 40); // merged only up to the bound (2^16 + the 2^32 budget), not adopted
    expect(await readMetric(server.http, 'correio_clock_bounded_inputs', { clock: 'lamport', outcome: 'clamped', input: 'request' })).toBe(clampedBefore + 1);

    // Still serving, with a clock that has all its room left, in memory and on disk.
    expect(server.child.alive).toBe(true);
    const users = await honest.call('chat', 'chat.users.request', {});
    expect(users.users.map((user) => user.user)).toContain('ana');
    expect((await clusterHealth(server)).lc).toBeLessThan(2 ** 40);
    expect(savedMark(dataDir)).toBeLessThan(2 ** 40);

    // The other clocks a peer can push, through the server's own service: a Berkeley poll with a
    // forged round, an absurd adjustment, and a replicated operation stamped at the end of both clocks.
    const poll = await attacker.raw('srv.h1', rawEnvelope('clock.poll.request', { round: MAX }));
    expect(poll.body).toMatchObject({ code: 'BAD_REQUEST', data: { reason: 'round_ahead' } });
    const round = Date.now();
    expect((await attacker.raw('srv.h1', rawEnvelope('clock.poll.request', { round }))).type).toBe('clock.poll.reply');
    expect((await attacker.raw('srv.h1', rawEnvelope('clock.adjust.request', { round, adjust_ms: MAX }))).body).toMatchObject({ applied: false });
    expect(await readMetric(server.http, 'correio_clock_bounded_inputs', { clock: 'berkeley', outcome: 'refused' })).toBe(1);
    const forged = { op: { origin: 'ghost', seq: 1 }, lc: MAX - 1, hlc: [Date.now(), 2 ** 32 - 1], kind: 'login', data: { user: 'ghost' } };
    const applied = await attacker.raw('srv.h1', rawEnvelope('replica.apply.request', { ops: [forged] }));
    expect(applied).toMatchObject({ type: 'replica.apply.reply', body: { applied: 1 } }); // stored, as every replicated operation is
    expect(await readMetric(server.http, 'correio_replication_clock_drift_skipped_total')).toBe(1); // but not merged into the HLC
    const health = await clusterHealth(server);
    expect(health.lc).toBeLessThan(2 ** 40); // nor the Lamport clock beyond its bounds
    expect(Math.abs(health.clock.corrected - Date.now())).toBeLessThan(60_000);
    await honest.call('chat', 'chat.channel.create.request', { user: 'ana', channel: 'general' });
    const written = await honest.call('chat', 'chat.publish.request', { user: 'ana', channel: 'general', text: 'still writing' });
    expect(written.lc).toBeLessThan(2 ** 40);
    expect(server.child.alive).toBe(true);

    // And it starts again on the same data directory.
    await server.child.stop();
    server = await startServerProcess(infra, 'h1', dataDir, STANDALONE);
    expect((await honest.call('chat', 'chat.users.request', {})).users.map((user) => user.user)).toContain('ana');
    expect(existsSync(join(dataDir, 'lamport.json'))).toBe(true);
    await server.child.stop();
  }, 90_000);
});

describe('a data directory poisoned by an older version', () => {
  it('is repaired at start with a loud log line, and every stored operation is kept', async () => {
    const dataDir = join(scratch.dir, 'p1');
    let server = await startServerProcess(infra, 'p1', dataDir, STANDALONE);
    const honest = client('honest-p1');
    await honest.call('srv.p1', 'chat.login.request', { user: 'bea' });
    await honest.call('srv.p1', 'chat.channel.create.request', { user: 'bea', channel: 'kept' });
    for (let i = 0; i < 3; i++) await honest.call('srv.p1', 'chat.publish.request', { user: 'bea', channel: 'kept', text: `before-${i}` });
    await server.child.stop();

    // What an older version left behind: the mark it saved after observing lc 2^53 − 2 (issue 22) ...
    writeFileSync(join(dataDir, 'lamport.json'), `${JSON.stringify({ format: 'correio-lamport-mark/1', mark: MAX })}\n`);
    // ... and an operation it stamped for a write request that carried lc 2^53 − 1000.
    const store = ChatStore.open({ path: dataDir });
    await store.claim('p1');
    const last = store.opsFrom('p1', store.highWaterMark('p1'), 1)[0]!;
    const rid = 'poisonedEra0000000001';
    await store.commitLocal('p1', rid, (seq) => ({ ...last, op: { origin: 'p1', seq }, lc: MAX - 998, hlc: [last.hlc[0] + 1, 0], data: { ...last.data, text: 'poisoned-era' }, rid }) as Operation);
    const before = store.digest();
    await store.close();

    server = await startServerProcess(infra, 'p1', dataDir, STANDALONE);
    expect(server.child.stderr).toMatch(/REPAIRED the Lamport mark/);
    expect(server.child.stderr).toMatch(/resumes at \d+, so new operations carry smaller lc values/);
    const health = await clusterHealth(server);
    expect(health.store).toMatchObject({ ops: before.ops, hash: before.hash, hwm: before.hwm }); // nothing lost, nothing rewritten
    const texts = async () => (await honest.call('srv.p1', 'chat.history.request', { channel: 'kept', limit: 50 })).messages.map((message) => message.text);
    expect(await texts()).toEqual(['before-0', 'before-1', 'before-2', 'poisoned-era']);

    // It serves writes again, with its clock below the line no received value crosses: room to tick.
    const written = await honest.call('srv.p1', 'chat.publish.request', { user: 'bea', channel: 'kept', text: 'after' });
    expect(written.lc).toBeGreaterThan(MAX_MERGED);
    expect(written.lc).toBeLessThan(MAX_MERGED + 1_000);
    expect(savedMark(dataDir)).toBeLessThan(MAX - 2 ** 31);
    expect(await texts()).toEqual(['before-0', 'before-1', 'before-2', 'poisoned-era', 'after']);

    // And the repair is done once: the next start is quiet.
    await server.child.stop();
    server = await startServerProcess(infra, 'p1', dataDir, STANDALONE);
    expect(server.child.stderr).not.toMatch(/REPAIRED the Lamport mark/);
    expect(await texts()).toHaveLength(5);
    await server.child.stop();
  }, 120_000);
});
