// The central logs (protocol revision 1.5) over real sockets: a broker, a proxy, a reference server
// and three chat servers in password mode, ana an operator. Programs ship lines to `logs` (here
// LogShippers in this process); each batch is durable on the server that took it and copied to
// the live peers before the reply; operators query by program, instance, level, time, text and
// request id, page by page; a server killed -9 catches up on restart; with every server down a
// program keeps logging into a bounded backlog, and says how many lines it dropped.
import { beforeAll, describe, expect, it } from 'vitest';
import { LogShipper } from '@correio/logs';
import { readMetric } from '@correio/testing';
import type { BodyOf, LogRecord } from '@correio/protocol';
import { AuthClient } from './helpers/auth.js';
import { eventually } from './helpers/chat.js';
import { clusterHealth, signUpAnaAndBia, startOperatorCluster, type OperatorCluster } from './helpers/cluster.js';
import { fileScratch, type Infrastructure, type ServerProcess } from './helpers/processes.js';

const PASSWORD = 'correct horse battery staple';
const IDS = ['l1', 'l2', 'l3'] as const;
let infra: Infrastructure;
let start: OperatorCluster['start'];
const servers = new Map<string, ServerProcess>();
const shippers: LogShipper[] = [];
let client: AuthClient;
let ana: string;
let bia: string;
const scratch = fileScratch({
  prefix: 'correio-central-logs-',
  closeFirst: async () => {
    await Promise.all(shippers.map((shipper) => shipper.close(0)));
    await client?.close();
  },
});

function shipper(instance: string, options: { backlogLines?: number } = {}): LogShipper {
  const made = new LogShipper({ broker: infra.broker, program: 'tester', instance, intervalMs: 20, maxBackoffMs: 200, timeoutMs: 2_000, ...options });
  shippers.push(made);
  return made;
}

function pinoLine(level: number, msg: string, fields: Record<string, unknown> = {}): string {
  return `${JSON.stringify({ level, time: new Date().toISOString(), pid: 1, name: 'tester', msg, ...fields })}\n`;
}

/** Every line a query matches, following `next` (at most 100 pages). */
async function everyLine(service: string, query: BodyOf<'logs.query.request'>, token?: string): Promise<LogRecord[]> {
  const lines: LogRecord[] = [];
  let after: string | undefined;
  for (let page = 0; page < 100; page++) {
    const reply = await client.call(service, 'logs.query.request', { ...query, ...(after === undefined ? {} : { after }) }, token);
    lines.push(...reply.lines);
    after = reply.next;
    if (after === undefined) return lines;
  }
  throw new Error('more than 100 pages');
}

/**
 * Waits until every server holds `count` lines of `instance`. A shipment is acknowledged once durable
 * on the server that took it and copied to the others within 2 s; a copy that did not make it in time
 * (a loaded machine) comes by anti-entropy, here every 500 ms.
 */
async function convergedOn(instance: string, count: number): Promise<void> {
  await eventually(async () => {
    const held = await Promise.all([...servers.keys()].map(async (id) => (await everyLine(`srv.${id}`, { instance, limit: 1000 })).length));
    return held.every((lines) => lines === count);
  }, 30_000, `every server to hold ${count} lines of ${instance}`);
}

beforeAll(async () => {
  const cluster = await startOperatorCluster(scratch.dir, IDS, ['--log-sync-interval', '500']);
  ({ infra, start } = cluster);
  for (const server of cluster.servers) servers.set(server.id, server);
  client = new AuthClient(infra.broker, 'logs-test');
  ({ ana, bia } = await signUpAnaAndBia(client, IDS, PASSWORD));
  await eventually(async () => (await Promise.all([...servers.values()].map(clusterHealth))).every((view) => view.cluster.peers.length === 2), 20_000, 'every server to see the others live');
}, 120_000);


describe('the central logs', () => {
  it('stores every shipped line on every live server, and answers queries by program, level, text, request id and time, page by page', async () => {
    const ship = shipper('t-1');
    const levels = [20, 30, 40, 50];
    for (let i = 1; i <= 3000; i++) ship.offer(pinoLine(levels[i % 4]!, `line ${i}`, { i, ...(i % 100 === 0 ? { rid: `req-${i}` } : {}) }));
    await eventually(() => ship.stats.shipped === 3000, 20_000, 'every line shipped');
    expect(ship.stats).toMatchObject({ offered: 3000, dropped: 0, pending: 0 });

    await convergedOn('t-1', 3000);
    for (const server of servers.values()) expect(await readMetric(server.http, 'correio_logs_lines'), server.id).toBeGreaterThanOrEqual(3000);

    const all = await everyLine('logs', { program: 'tester', limit: 700 }, ana);
    expect(all.map((line) => line.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(all[0]).toMatchObject({ program: 'tester', instance: 't-1', boot: ship.boot, level: 30, msg: 'line 1', fields: '{"name":"tester","i":1}' });

    const errors = await everyLine('logs', { instance: 't-1', level: 'error' }, ana);
    expect(errors).toHaveLength(750);
    expect(errors.every((line) => line.level === 50)).toBe(true);

    const request = await everyLine('logs', { request_id: 'req-1200' }, ana);
    expect(request.map((line) => line.msg)).toEqual(['line 1200']);

    const matching = await everyLine('logs', { program: 'tester', contains: 'line 299' }, ana);
    expect(matching.map((line) => line.msg).sort()).toEqual(['line 299', 'line 2990', 'line 2991', 'line 2992', 'line 2993', 'line 2994', 'line 2995', 'line 2996', 'line 2997', 'line 2998', 'line 2999']);

    const tail = await client.call('logs', 'logs.query.request', { program: 'tester', order: 'desc', limit: 5 }, ana);
    expect(tail.lines.map((line) => line.seq)).toEqual([3000, 2999, 2998, 2997, 2996]);
    expect(tail.next).toMatch(/^d:/);

    const later = await everyLine('logs', { program: 'tester', since: all[2500]!.at, until: all[2600]!.at + 1 }, ana);
    expect(later.length).toBeGreaterThanOrEqual(101);
    expect(later.every((line) => line.at >= all[2500]!.at && line.at <= all[2600]!.at)).toBe(true);
  });

  it('refuses readers without the operator role, server copies through the logs service, and cursors it did not issue', async () => {
    expect((await client.failure('logs', 'logs.query.request', {})).code).toBe('UNAUTHENTICATED');
    expect(await client.failure('logs', 'logs.query.request', {}, bia)).toMatchObject({ code: 'FORBIDDEN', data: { reason: 'operators_only' } });
    const copy = { lines: [{ program: 'tester', instance: 'x', boot: 'forged-boot', seq: 1, at: Date.now(), level: 30, msg: 'forged' }] };
    expect((await client.failure('logs', 'logs.copy.request', copy)).code).toBe('BAD_REQUEST');
    expect((await client.failure('logs', 'logs.query.request', { after: 'd:1:1' }, ana)).code).toBe('BAD_REQUEST');
    expect((await client.failure('logs', 'logs.query.request', { after: 'not-a-cursor' }, ana)).code).toBe('BAD_REQUEST');
    // Lines far ahead of the clock would outlive retention: refused, counted, not stored.
    const ahead = await client.call('logs', 'logs.ship.request', { program: 'tester', instance: 'x', boot: 'aheadboot', lines: [{ seq: 1, at: Date.now() + 3 * 86_400_000, level: 30, msg: 'from the future' }] });
    expect(ahead).toEqual({ stored: 0, duplicates: 0, refused: 1 });
    // A batch sent twice is stored once, on every server.
    const batch = { program: 'tester', instance: 'twice', boot: 'twiceboot', lines: [{ seq: 1, at: Date.now(), level: 30, msg: 'once' }] } as const;
    const first = await client.call('logs', 'logs.ship.request', batch);
    // A retried attempt (the test client's, after a lost reply) finds it stored: one way or the other, one line.
    expect(first.stored + first.duplicates).toBe(1);
    await convergedOn('twice', 1);
    expect(await client.call('logs', 'logs.ship.request', batch)).toEqual({ stored: 0, duplicates: 1, refused: 0 });
  });

  it('a server killed -9 while lines are shipped fetches what it missed from its peers on restart', async () => {
    const victim = servers.get('l3')!;
    victim.child.kill('SIGKILL');
    await victim.child.exited;
    servers.delete('l3');
    const ship = shipper('t-2');
    for (let i = 1; i <= 1000; i++) ship.offer(pinoLine(30, `while l3 was down ${i}`));
    await eventually(() => ship.stats.shipped === 1000, 20_000, 'every line shipped');
    const restarted = await start('l3');
    servers.set('l3', restarted);
    await eventually(async () => (await everyLine('srv.l3', { instance: 't-2', limit: 1000 })).length === 1000, 20_000, 'l3 to hold every line');
    expect(await readMetric(restarted.http, 'correio_logs_sync', { event: 'fetched' })).toBeGreaterThanOrEqual(1000);
  });

  it('with every log server down, a program keeps logging into its bounded backlog, then ships it with the count of lines it dropped', async () => {
    const ship = shipper('t-3', { backlogLines: 300 });
    for (let i = 1; i <= 100; i++) ship.offer(pinoLine(30, `before ${i}`));
    await eventually(() => ship.stats.shipped === 100, 20_000, 'the first lines shipped');
    for (const [id, server] of servers) {
      server.child.kill('SIGKILL');
      await server.child.exited;
      servers.delete(id);
    }
    // Offered in one synchronous run, as a busy program would: the backlog keeps the newest 300.
    for (let i = 1; i <= 1000; i++) ship.offer(pinoLine(30, `during ${i}`));
    expect(ship.stats).toMatchObject({ pending: 300, dropped: 700 });
    for (const server of await Promise.all(IDS.map(start))) servers.set(server.id, server);
    await eventually(() => ship.stats.pending === 0, 30_000, 'the backlog shipped');
    // 100 before, the 300 the backlog kept, and the warning.
    await convergedOn('t-3', 401);

    const held = await everyLine('logs', { instance: 't-3', limit: 1000 }, ana);
    const notice = held.find((line) => line.msg.includes('dropped'));
    expect(notice).toMatchObject({ level: 40 });
    const dropped = JSON.parse(notice!.fields!) as { dropped: number; first_seq: number; last_seq: number };
    // Nothing else is lost: every line is either held or one of the dropped ones, and the count says how many.
    const seqs = new Set(held.filter((line) => line !== notice).map((line) => line.seq));
    expect(seqs.size + dropped.dropped).toBe(1100);
    expect(dropped).toMatchObject({ dropped: 700, first_seq: 101, last_seq: 800 });
    for (let seq = 1; seq <= 1100; seq++) {
      if (!seqs.has(seq)) expect(seq >= dropped.first_seq && seq <= dropped.last_seq, `seq ${seq}`).toBe(true);
    }
    for (let seq = 1; seq <= 100; seq++) expect(seqs.has(seq)).toBe(true);
  }, 90_000);
});
