// Clocks under hostile input, over real processes (broker, proxy, a standalone server): a schema-valid
// request whose lc is near 2^53 − 1 must neither kill the server nor poison its data directory
// (docs/architecture.md, "Clocks and counters under hostile input").
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readMetric } from '@correio/testing';
import { ChatClient, rawEnvelope } from './helpers/chat.js';
import { clusterHealth } from './helpers/cluster.js';
import { fileScratch, startInfrastructure, startServerProcess, type Infrastructure } from './helpers/processes.js';

const MAX = Number.MAX_SAFE_INTEGER;
const STANDALONE = ['--no-ref'];

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
  it('is refused with BAD_REQUEST; the server keeps serving, persists no exhausted mark, and restarts', async () => {
    const dataDir = join(scratch.dir, 'h1');
    let server = await startServerProcess(infra, 'h1', dataDir, STANDALONE);
    const honest = client('honest-h1');
    await honest.call('chat', 'chat.login.request', { user: 'ana' });

    const attacker = client('attacker-h1');
    const reply = await attacker.raw('chat', rawEnvelope('chat.users.request', {}, { lc: MAX - 1 }));
    expect(reply.type).toBe('error');
    expect(reply.body).toMatchObject({ code: 'BAD_REQUEST', data: { reason: 'lamport_ahead' } });
    expect(reply.lc).toBeLessThan(2 ** 40); // the server did not adopt the hostile value
    expect(await readMetric(server.http, 'correio_clock_bounded_inputs', { clock: 'lamport', outcome: 'refused' })).toBeGreaterThanOrEqual(1);

    // Still serving, with a clock that has all its room left, in memory and on disk.
    expect(server.child.alive).toBe(true);
    const users = await honest.call('chat', 'chat.users.request', {});
    expect(users.users.map((user) => user.user)).toContain('ana');
    expect((await clusterHealth(server)).lc).toBeLessThan(2 ** 40);
    expect(savedMark(dataDir)).toBeLessThan(2 ** 40);

    // And it starts again on the same data directory.
    await server.child.stop();
    server = await startServerProcess(infra, 'h1', dataDir, STANDALONE);
    expect((await honest.call('chat', 'chat.users.request', {})).users.map((user) => user.user)).toContain('ana');
    expect(existsSync(join(dataDir, 'lamport.json'))).toBe(true);
    await server.child.stop();
  }, 90_000);
});
