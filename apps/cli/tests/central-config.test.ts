// Central configuration and central logs across a running `correio up` (broker, proxy, ref, three
// servers, the gateway): `correio config set` changes the log level of every program kind, and each running
// program applies it without a restart (its "configuration in effect" line, written at info, shows
// up only once the new level lets it through; the pids stay the same). An invalid document is
// refused with the field named, a setting that needs a restart is reported as such, and a
// rollback puts the previous level back. The first change comes right after start-up, when the
// servers may not list each other yet: a refused replication makes them read the list again.
// Every program ships its lines to the log service (CORREIO_LOG_SERVICE, set by `up`): with the
// level at debug, one request sent through the gateway is followed by its id across five processes
// (gateway, broker, the server that commits it, the two that replicate it), with `correio logs`,
// `correio logs --follow` and the gateway's /v1/logs. The task queue runs inside `up` too: `correio
// tasks` enqueues, waits, lists, replays, cancels, purges and follows, with a worker in this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskClient, TaskWorker } from '@correio/tasks';
import { RequestClient } from '@correio/transport';
import { spawn } from 'node:child_process';
import { CORREIO_BIN, CorreioProcess, cleanEnv, isAlive, REPO_ROOT, runCorreio } from './helpers/runCorreio.js';

const PASSWORD = 'correct horse battery staple';
const PROGRAMS = { broker: ['broker'], proxy: ['proxy'], ref: ['ref'], server: ['srv-1', 'srv-2', 'srv-3'], gateway: ['gateway'] } as const;
const COMPONENTS = Object.values(PROGRAMS).flat();
let up: CorreioProcess;
let dataDir: string;
let broker: string;
let proxySub: string;
let gateway: string;

function pidsOf(name: string): number[] {
  return up.lines.flatMap((line) => {
    const match = new RegExp(`^\\[up\\]\\s+${name}: started \\(pid (\\d+)\\)`).exec(line);
    return match ? [Number(match[1])] : [];
  });
}

/** `correio config ...` as the operator ana. */
function config(args: readonly string[]) {
  return runCorreio(['config', ...args, '--broker', broker], { env: { CORREIO_USER: 'ana', CORREIO_PASSWORD: PASSWORD }, timeoutMs: 60_000, launch: 'entry' });
}

/** `correio logs ...` as the operator ana. */
function logs(args: readonly string[], timeoutMs = 30_000) {
  return runCorreio(['logs', ...args, '--broker', broker], { env: { CORREIO_USER: 'ana', CORREIO_PASSWORD: PASSWORD }, timeoutMs, launch: 'entry' });
}

/** Logs ana in through the gateway: her access token. */
async function gatewayToken(): Promise<string> {
  const response = await fetch(`${gateway}/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ana', password: PASSWORD }) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

/** Publishes through the gateway with `id` as the request id (Idempotency-Key). */
async function publishThroughGateway(token: string, id: string): Promise<void> {
  const response = await fetch(`${gateway}/v1/channels/general/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': id },
    body: JSON.stringify({ text: `traced ${id}` }),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

/** Lines a component printed after `from` (an index into up.lines) matching `pattern`. */
function linesOf(name: string, pattern: RegExp, from = 0): string[] {
  return up.lines.slice(from).filter((line) => line.startsWith(`[${name}]`) && pattern.test(line));
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'correio-central-config-'));
  up = new CorreioProcess(['up', '--free-ports', '--data-dir', dataDir, '--bots', '0', '--duration', '600', '--color', 'never', '--summary-interval', '60s'], {}, 'entry');
  await up.waitFor(/^\[up\]\s+all 7 components ready in/, 120_000);
  const login = await up.waitFor(/^\[up\]\s+log in: .*--broker (\S+) --proxy-sub (\S+)/, 10_000);
  const [, brokerAt, proxyAt] = /--broker (\S+) --proxy-sub (\S+)/.exec(login)!;
  broker = brokerAt!;
  proxySub = proxyAt!;
  gateway = /gateway: (\S+)/.exec(await up.waitFor(/^\[up\]\s+gateway: http/, 10_000))![1]!;
  const client = new RequestClient({ endpoint: broker, timeout: 10_000 });
  try {
    const reply = await client.request('chat', 'chat.register.request', { user: 'ana', password: PASSWORD }, { retries: 3 });
    expect(reply.type, JSON.stringify(reply.body)).toBe('chat.register.reply');
  } finally {
    await client.close();
  }
}, 180_000);

afterAll(async () => {
  if (up) {
    const pids = COMPONENTS.flatMap(pidsOf);
    up.child.kill('SIGINT');
    await up.exited;
    for (const pid of pids) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('central configuration in a running system', () => {
  it('changes the log level of every program kind, applied live by every running program', async () => {
    const pidsBefore = Object.fromEntries(COMPONENTS.map((name) => [name, pidsOf(name)]));
    const from = up.lines.length;
    for (const program of Object.keys(PROGRAMS)) {
      const set = await config(['set', program, '--set', 'logLevel=debug']);
      expect(set.code, set.stderr).toBe(0);
      expect(set.stdout).toMatch(new RegExp(`^${program}: version 1 set \\(was 0\\)$`, 'm'));
      expect(set.stdout).toContain('+ logLevel: "debug"');
    }
    // Each program hears config.changed and applies it; its info line proves the level changed.
    for (const name of COMPONENTS) await up.waitFor(new RegExp(`^\\[${name}\\].*configuration in effect`), 30_000);
    for (const name of COMPONENTS) {
      expect(linesOf(name, /applied logLevel without a restart/, from), name).toHaveLength(1);
      expect(pidsOf(name), `${name} was not restarted`).toEqual(pidsBefore[name]);
    }
    const get = await config(['get', 'server', '--instance', 'srv-2']);
    expect(get.stdout).toContain('server srv-2: version 0 (none set)');
    expect(get.stdout).toMatch(/"logLevel": "debug"/);
  });

  it("follows one request's id across five processes in the central logs: gateway, broker, and the three servers", async () => {
    const token = await gatewayToken();
    await fetch(`${gateway}/v1/channels`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ channel: 'general' }) });
    const id = `trace-${Date.now()}`;
    await publishThroughGateway(token, id);
    // Lines reach the service within a shipment interval; the replicas' within their apply.
    const expected = [/^\S+ gateway\/\S+ /m, /^\S+ broker\/broker /m, ...PROGRAMS.server.map((server) => new RegExp(`^\\S+ server/${server} `, 'm'))];
    let out = '';
    for (let attempt = 0; attempt < 20; attempt++) {
      const read = await logs(['--request', id, '--since', '5m', '--limit', '1000']);
      expect(read.code, read.stderr).toBe(0);
      out = read.stdout;
      if (expected.every((pattern) => pattern.test(out))) break;
    }
    for (const pattern of expected) expect(out, String(pattern)).toMatch(pattern);
    expect(out.split('\n').filter(Boolean).every((line) => line.endsWith(`rid=${id}`))).toBe(true);
    expect(out).toMatch(/gateway\/\S+ DEBUG request sent upstream/);
    expect(out).toMatch(/broker\/broker DEBUG request received .*service=chat/);
    expect(out.match(/operation committed/g)).toHaveLength(1);
    expect(out.match(/replicated operation applied/g)).toHaveLength(2);

    // The same query over the gateway (operators only), as the dashboard asks it.
    const viaGateway = await fetch(`${gateway}/v1/logs?request_id=${id}&limit=100`, { headers: { authorization: `Bearer ${token}` } });
    expect(viaGateway.status).toBe(200);
    const page = (await viaGateway.json()) as { lines: Array<{ program: string; instance: string; request_id: string }> };
    expect(new Set(page.lines.map((line) => line.program))).toEqual(new Set(['gateway', 'broker', 'server']));
    expect(new Set(page.lines.filter((line) => line.program === 'server').map((line) => line.instance))).toEqual(new Set(PROGRAMS.server));
    expect(page.lines.every((line) => line.request_id === id)).toBe(true);
    expect((await fetch(`${gateway}/v1/logs`)).status).toBe(401);
  });

  it('correio logs filters by program, level and text, and --follow prints lines as they arrive', async () => {
    const ready = await logs(['--program', 'server', '--since', '10m', '--grep', 'configuration in effect', '--limit', '1000']);
    expect(ready.code, ready.stderr).toBe(0);
    for (const server of PROGRAMS.server) expect(ready.stdout, server).toMatch(new RegExp(`server/${server} INFO configuration in effect`));
    const warnings = await logs(['--level', 'error', '--since', '10m', '--json', '--limit', '1000']);
    expect(warnings.code, warnings.stderr).toBe(0);
    for (const line of warnings.stdout.split('\n').filter(Boolean)) expect((JSON.parse(line) as { level: number }).level).toBeGreaterThanOrEqual(50);

    // Piped into a reader that stops after the first chunk (`| head`): it ends quietly, status 0.
    const piped = spawn(process.execPath, [CORREIO_BIN, 'logs', '--since', '10m', '--limit', '1000', '--json', '--broker', broker], {
      cwd: REPO_ROOT,
      env: { ...cleanEnv(), CORREIO_USER: 'ana', CORREIO_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pipedErrors = '';
    piped.stderr.on('data', (chunk: Buffer) => (pipedErrors += chunk.toString()));
    piped.stdout.once('data', () => piped.stdout.destroy());
    const pipedExit = await new Promise<number | null>((resolve) => piped.once('close', (code) => resolve(code)));
    expect(pipedErrors).not.toMatch(/EPIPE/);
    expect(pipedExit).toBe(0);

    const id = `follow-${Date.now()}`;
    const follow = new CorreioProcess(['logs', '--follow', '--request', id, '--count', '5', '--limit', '10', '--broker', broker], { CORREIO_USER: 'ana', CORREIO_PASSWORD: PASSWORD }, 'entry');
    try {
      // Whether its first read comes before the request or after, the follower prints the lines once.
      await publishThroughGateway(await gatewayToken(), id);
      expect(await follow.exited).toEqual({ code: 0, signal: null });
      expect(follow.lines.filter((line) => line.includes(`rid=${id}`))).toHaveLength(5);
    } finally {
      follow.child.kill('SIGKILL');
    }
  });

  it('changes a server setting live: the page size of replies without a limit', async () => {
    const client = new RequestClient({ endpoint: broker, timeout: 10_000 });
    try {
      const login = await client.request('chat', 'chat.login.request', { user: 'ana', password: PASSWORD }, { retries: 3 });
      const token = (login.body as { token: string }).token;
      for (const channel of ['one', 'two', 'three']) await client.request('chat', 'chat.channel.create.request', { channel }, { auth: token, retries: 3 });
      const pageOf = async (server: string) => (await client.request(`srv.${server}`, 'chat.channels.request', {}, { auth: token, retries: 3 })).body as { channels: unknown[]; next?: string };
      const set = await config(['set', 'server', '--set', 'pageSize=2']);
      expect(set.code, set.stderr).toBe(0);
      for (const server of PROGRAMS.server) await up.waitFor(new RegExp(`^\\[${server}\\].*applied pageSize without a restart`), 30_000);
      for (const server of PROGRAMS.server) {
        // Channels are replicated asynchronously: wait for all three, then the page holds two.
        let page = await pageOf(server);
        for (let i = 0; i < 50 && page.next === undefined; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          page = await pageOf(server);
        }
        expect(page.channels, server).toHaveLength(2);
        expect(page.next, server).toBeDefined();
      }
    } finally {
      await client.close();
    }
  });

  it('refuses an invalid document with the field named, and changes nothing', async () => {
    const bad = await config(['set', 'gateway', '--set', 'logLevel=loud']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/logLevel: expected/);
    const history = await config(['history', 'gateway']);
    expect(history.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('reports a setting that needs a restart, and rolls the log level back live', async () => {
    const from = up.lines.length;
    const set = await config(['set', 'server', '--instance', 'srv-3', '--set', 'concurrency=8']);
    expect(set.code, set.stderr).toBe(0);
    await up.waitFor(/^\[srv-3\].*concurrency take effect at the next start/, 30_000);
    expect(linesOf('srv-1', /concurrency/, from)).toEqual([]);
    const rollback = await config(['rollback', 'broker', '--to', '1']);
    expect(rollback.stdout).toContain('broker: version 2 restores version 1');
    const back = await config(['set', 'broker', '--unset', 'logLevel']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('- logLevel: "debug"');
    await up.waitFor(/^\[broker\].*applied logLevel without a restart.*kind_version=3/, 30_000);
    // Back at the quiet default: the broker no longer writes its info line.
    const quietFrom = up.lines.length;
    await config(['set', 'broker', '--set', 'heartbeat=2500']);
    await up.waitFor(/^\[broker\].*heartbeat take effect at the next start/, 30_000);
    expect(linesOf('broker', /configuration in effect/, quietFrom)).toEqual([]);
    const history = await config(['history', 'broker']);
    expect(history.stdout).toMatch(/^v2 .*\(rollback to v1\)/m);
    const diff = await config(['diff', 'broker', '--from', '1', '--to', '4']);
    expect(diff.stdout).toContain('- logLevel: "debug"');
    expect(diff.stdout).toContain('+ heartbeat: 2500');
    expect(proxySub).toMatch(/^tcp:/);
  });
});

describe('the task queue in a running system (`correio tasks`)', () => {
  /** `correio tasks ...` as ana (servers of `up` are in password mode: any user's token). */
  function tasks(args: readonly string[], timeoutMs = 60_000) {
    return runCorreio(['tasks', ...args, '--broker', broker], { env: { CORREIO_USER: 'ana', CORREIO_PASSWORD: PASSWORD }, timeoutMs, launch: 'entry' });
  }

  it('enqueues and waits for a result, lists by state with counts, replays dead letters, cancels, purges and follows events', async () => {
    const token = await gatewayToken();
    const worker = new TaskWorker({
      broker,
      queues: ['demo'],
      auth: () => token,
      pollMs: 2_000,
      handlers: {
        greet: (args: { name: string }) => `hello ${args.name}`,
        fail: () => {
          throw new TypeError('designed to fail');
        },
      },
    }).start();
    try {
      const done = await tasks(['enqueue', 'demo', 'greet', '{"name":"ana"}', '--id', 'greet-1', '--wait', '30s']);
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toMatch(/^greet-1 {2}succeeded {2}demo greet {2}attempt 1\/3/m);
      expect(done.stdout).toContain('result "hello ana"');

      const failed = await tasks(['enqueue', 'demo', 'fail', '--id', 'fail-1', '--max-attempts', '1', '--wait', '30s']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toContain('error TypeError: designed to fail');
      const listed = await tasks(['list', '--queue', 'demo', '--state', 'dead']);
      expect(listed.stdout).toMatch(/^demo: .*dead 1/m);
      expect(listed.stdout).toMatch(/^fail-1 {2}dead/m);
      const replayed = await tasks(['retry', '--dead', 'demo']);
      expect(replayed.stdout).toContain('replayed fail-1');
      const get = await tasks(['get', 'fail-1', '--wait', '30s', '--json']);
      expect(JSON.parse(get.stdout)).toMatchObject({ id: 'fail-1', state: 'dead', attempt: 1 });

      const later = await tasks(['enqueue', 'demo', 'greet', '{"name":"bia"}', '--id', 'later-1', '--delay', '1h']);
      expect(later.stdout).toMatch(/^later-1 {2}scheduled/m);
      const cancelled = await tasks(['cancel', 'later-1']);
      expect(cancelled.stdout).toContain('later-1 is cancelled');
      for (const id of ['p-1', 'p-2']) await tasks(['enqueue', 'purged', 'greet', '{"name":"x"}', '--id', id, '--delay', '1h']);
      const purge = await tasks(['purge', 'purged']);
      expect(purge.stdout).toContain('purged 2 jobs of purged');

      const scheduled = await tasks(['schedule', 'hourly', '0 * * * *', 'demo', 'greet', '{"name":"cron"}']);
      expect(scheduled.stdout).toMatch(/^hourly {2}'0 \* \* \* \*' {2}demo greet {2}next \d{4}-\d\d-\d\dT\d\d:00:00\.000Z$/m);
      expect((await tasks(['schedules'])).stdout).toMatch(/^hourly /m);
      expect((await tasks(['unschedule', 'hourly'])).stdout).toContain('removed hourly');
      expect((await tasks(['schedule', 'broken', 'every tuesday', 'demo', 'greet'])).stderr).toMatch(/BAD_REQUEST: the cron expression "every tuesday" does not parse/);

      const follow = runCorreio(['tasks', 'follow', '--queue', 'demo', '--count', '3', '--proxy-sub', proxySub], { timeoutMs: 60_000, launch: 'entry' });
      // The subscription takes a moment to reach the proxy: enqueue until the follower has its three
      // events (through the library, one process: the CLI's enqueue is tested above).
      let followed: Awaited<typeof follow> | undefined;
      void follow.then((result) => (followed = result));
      const producer = new TaskClient({ broker, auth: () => token });
      try {
        // One job every 200 ms for at most 40 s: the follower's start-up takes a second or two.
        for (let attempt = 0; attempt < 200 && followed === undefined; attempt++) {
          const { job } = await producer.enqueue('demo', 'greet', { name: `f${attempt}` });
          await producer.wait(job.id, { timeoutMs: 30_000 });
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await producer.close();
      }
      const events = await follow;
      expect(events.code, events.stderr).toBe(0);
      expect(events.stdout.trim().split('\n')).toHaveLength(3);
      expect(events.stdout).toMatch(/ demo {2}\S+ {2}greet {2}(queued|active|succeeded) {2}attempt/);
    } finally {
      await worker.stop({ graceMs: 1_000 });
    }
  });
});
