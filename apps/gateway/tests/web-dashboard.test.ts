// The operator's dashboard of apps/web (/dashboard) in Debian's Chromium through playwright-core.
// Against real processes (broker, proxy, reference server, three chat servers in password mode with
// ana an operator, the gateway): the topology with every server's rank and the coordinator, charts
// drawn, axe-core clean, a screenshot; the coordinator killed (SIGKILL) shows down within the
// reference server's heartbeat bound, a new coordinator is marked, and the restarted server comes
// back up. The Logs panel: lines shipped to the cluster's log service with LogShipper (at info,
// warn and error, some of one request) shown at the warn default, narrowed by level and by a
// clicked request id, a line shipped later appearing without a reload, a server's lines from its
// details, no read while the page is hidden and never two at once; a non-operator told why there
// are none. The Tasks panel: a job enqueued through the gateway and run by a TaskWorker in this
// process seen active with its progress, then succeeded with its result; a dead letter shown with its
// error and replayed from the panel. Against a scripted stand-in for /v1/dashboard (helpers/scriptedDashboardGateway.ts):
// what a real cluster does not do on cue — exact values in the drill-down, a socket dropped and
// refused for a while, a user who is not an operator.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogShipper } from '@correio/logs';
import { PermanentJobError, TaskWorker, type JobContext } from '@correio/tasks';
import type { DashboardNode, GatewayDashboard } from '@correio/protocol';
import { waitFor } from '@correio/testing';
import { axeViolations, launchBrowser, newPage, screenshot, UI_MS } from './helpers/browser.js';
import { CLUSTER_START_MS, http, startCluster, startGateway, startServer, type Cluster, type GatewayProcess } from './helpers/cluster.js';
import { startScriptedDashboardGateway, type ScriptedDashboardGateway } from './helpers/scriptedDashboardGateway.js';

let browser: Browser;
let scripted: ScriptedDashboardGateway;

beforeAll(async () => {
  browser = await launchBrowser();
  scripted = await startScriptedDashboardGateway(['ana']);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await scripted?.close();
});

/** Logs in through the form on /dashboard. */
async function logIn(page: Page, url: string, user: string, password = `${user} has a good password`): Promise<void> {
  await page.goto(`${url}/dashboard`);
  await page.getByRole('heading', { name: 'Correio dashboard' }).waitFor();
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password (8 characters or more)').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** The reference server's defaults: a heartbeat a second, down after 3 missed. */
const REF_DOWN_MS = 3 * 1000;
/** A snapshot a second; each gather waits at most 800 ms for a process's /health and /metrics. */
const DASHBOARD_LAG_MS = 1000 + 800;
/** Scheduling on a loaded 2-core machine (Chromium, seven Node processes). */
const BUSY_MARGIN_MS = 5_000;

/** The id the page marks coordinator, null while it marks none. */
async function markedCoordinator(page: Page): Promise<string | null> {
  const marked = page.locator('button.node.coordinator');
  return (await marked.count()) === 1 ? marked.getAttribute('data-node') : null;
}
/** Timeline entries whose text is exactly `text`. */
const timelineEntries = (page: Page, text: string) => page.locator('.timeline .event-text', { hasText: new RegExp(`^${text.replace(/[()]/g, '\\$&')}$`) }).count();

/** Ships pino lines as `program`/`instance` through `broker` and waits until the log service has stored them. */
async function ship(broker: string, program: string, instance: string, lines: readonly Record<string, unknown>[]): Promise<void> {
  const shipper = new LogShipper({ broker, program, instance });
  try {
    for (const line of lines) shipper.offer(JSON.stringify({ time: Date.now(), ...line }));
    await waitFor(() => shipper.stats.shipped === lines.length, `${lines.length} lines shipped as ${program}/${instance}`, UI_MS);
  } finally {
    await shipper.close(1000);
  }
}

/** What the page's reads of /v1/logs and its dashboard socket's messages were, counted by an init script. */
interface PageCounts {
  logReads: number;
  openLogReads: number;
  mostOpenLogReads: number;
  socketMessages: number;
}

/** Counts the page's /v1/logs reads (how many at once, at most) and its WebSocket messages (a snapshot a second). */
async function countTraffic(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const scope = globalThis as unknown as { counts: PageCounts; fetch: (input: unknown, init?: unknown) => Promise<unknown>; WebSocket: new (url: string) => { addEventListener(type: string, listener: () => void): void } };
    const counts: PageCounts = { logReads: 0, openLogReads: 0, mostOpenLogReads: 0, socketMessages: 0 };
    scope.counts = counts;
    const nativeFetch = scope.fetch.bind(globalThis);
    scope.fetch = async (input, init) => {
      if (!String(input).startsWith('/v1/logs')) return nativeFetch(input, init);
      counts.logReads += 1;
      counts.openLogReads += 1;
      counts.mostOpenLogReads = Math.max(counts.mostOpenLogReads, counts.openLogReads);
      try {
        return await nativeFetch(input, init);
      } finally {
        counts.openLogReads -= 1;
      }
    };
    const NativeSocket = scope.WebSocket;
    scope.WebSocket = class extends NativeSocket {
      constructor(url: string) {
        super(url);
        this.addEventListener('message', () => (counts.socketMessages += 1));
      }
    };
  });
}

/** Makes the page believe it is hidden or visible (as a tab in the background is); its /v1/logs reads until then. */
function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<number> {
  return page.evaluate((visibility) => {
    const scope = globalThis as unknown as { counts: PageCounts; document: EventTarget };
    Object.defineProperty(scope.document, 'visibilityState', { configurable: true, get: () => visibility });
    scope.document.dispatchEvent(new Event('visibilitychange'));
    return scope.counts.logReads;
  }, state);
}

const countsOf = (page: Page) => page.evaluate(() => (globalThis as unknown as { counts: PageCounts }).counts);

describe('the dashboard of a real cluster', () => {
  let cluster: Cluster;
  let gateway: GatewayProcess;
  let ana: Page;

  beforeAll(async () => {
    cluster = await startCluster(3, 'password', { ref: true, http: true, operators: ['ana'] });
    const monitors = ['broker', 'proxy', 'ref'].map((kind) => `${kind}=${cluster.monitoring.get(kind)!}`).join(',');
    gateway = await startGateway(cluster, ['--monitor', monitors]);
    expect((await http(`${gateway.url}/v1/register`, { body: { user: 'ana', password: 'ana has a good password' } })).status).toBe(201);
    ana = await newPage(browser);
    await logIn(ana, gateway.url, 'ana');
  }, CLUSTER_START_MS);

  it('shows an operator every process, each server with its rank and the coordinator, and draws the charts', async () => {
    for (const id of ['s1', 's2', 's3']) await ana.getByRole('button', { name: new RegExp(`^${id} server · rank \\d+ up`) }).waitFor();
    for (const kind of ['gateway', 'broker', 'proxy', 'reference server']) await ana.getByRole('button', { name: new RegExp(` ${kind} up`) }).first().waitFor();
    // The bully election: the highest-ranked live server coordinates.
    const ranks = new Map<string, number>();
    for (const id of ['s1', 's2', 's3']) ranks.set(id, Number(/rank (\d+)/.exec((await ana.locator(`button.node[data-node="${id}"]`).textContent())!)![1]));
    const highest = [...ranks].sort((a, b) => b[1] - a[1])[0]![0];
    await expect.poll(() => markedCoordinator(ana), { timeout: UI_MS }).toBe(highest);
    expect(await ana.getByRole('button', { name: /coordinator/ }).count()).toBe(1);

    // Traffic for the rate charts, then points enough to draw lines.
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'ana', password: 'ana has a good password' } });
    const headers = { authorization: `Bearer ${login.body.token}` };
    expect((await http(`${gateway.url}/v1/channels`, { body: { channel: 'ops' }, headers })).status).toBe(200);
    for (let index = 1; index <= 10; index++) expect((await http(`${gateway.url}/v1/channels/ops/messages`, { body: { text: `busy ${index}` }, headers })).status).toBe(200);
    await expect.poll(() => ana.locator('figure[data-chart="rss"]').getAttribute('data-points').then(Number), { timeout: UI_MS }).toBeGreaterThanOrEqual(3);
    expect(await ana.locator('figure.chart canvas').count()).toBe(8);
    const rss = ana.getByRole('table', { name: 'Memory (RSS), by process: latest values' });
    for (const id of ['s1', 's2', 's3']) expect(await rss.getByRole('row', { name: id }).locator('td').first().textContent()).toMatch(/^\d+(\.\d)? MiB$/);
    // The chat service's request rate: the highest point of the window is the traffic above.
    const requests = ana.getByRole('table', { name: 'Requests per second, by service: latest values' });
    await expect.poll(() => requests.getByRole('row', { name: 'chat' }).locator('td').nth(1).textContent().then((text) => Number.parseFloat(text!)), { timeout: UI_MS }).toBeGreaterThan(0);
    await ana.locator('.timeline li').first().waitFor();
    // The coordinator's details, from the keyboard.
    await ana.locator(`button.node[data-node="${highest}"]`).press('Enter');
    await ana.getByRole('heading', { name: `server ${highest}` }).waitFor();
    await expect.poll(() => ana.locator('#details').textContent(), { timeout: UI_MS }).toMatch(new RegExp(`Rank${ranks.get(highest)}Rolecoordinator.*Lamport clock\\d+`));

    expect(await axeViolations(ana)).toEqual([]);
    await screenshot(ana, 'dashboard.png', true);
  });

  it('shows the lines programs shipped, narrowed by level, by a clicked request id and by process, and lines shipped later without a reload', async () => {
    const run = Date.now().toString(36);
    const rid = `req-${run}`;
    await ship(cluster.broker, 'gateway', `gw-${run}`, [{ level: 40, msg: `upstream slow ${run}`, rid, route: '/v1/channels' }]);
    await ship(cluster.broker, 'broker', `broker-${run}`, [{ level: 50, msg: `worker expired ${run}`, rid, service: 'chat' }]);
    await ship(cluster.broker, 'server', 's1', [
      { level: 30, msg: `operation committed ${run}`, rid },
      { level: 40, msg: `peer slow ${run}`, peer: 's2', attempts: 3 },
    ]);
    const page = await newPage(browser);
    await countTraffic(page);
    await logIn(page, gateway.url, 'ana');
    const rows = page.locator('#logs tbody tr', { hasText: run });
    const row = (text: string) => rows.filter({ hasText: `${text} ${run}` });

    // The quiet default: warnings and worse, newest first, each with its level, source, fields and request.
    await row('peer slow').waitFor();
    await row('upstream slow').waitFor();
    await row('worker expired').waitFor();
    expect(await row('operation committed').count()).toBe(0);
    expect(await rows.locator('.log-msg').allTextContents()).toEqual([`peer slow ${run}`, `worker expired ${run}`, `upstream slow ${run}`]);
    expect(await row('worker expired').locator('.log-level').textContent()).toBe('ERROR');
    expect(await row('worker expired').getAttribute('class')).toContain('level-error');
    expect(await row('upstream slow').locator('.log-source').textContent()).toBe(`gateway/gw-${run}`);
    const fields = row('peer slow').locator('details.log-fields');
    expect(await fields.locator('summary').textContent()).toBe('peer=s2 attempts=3');
    await fields.locator('summary').click();
    expect(await fields.locator('pre').textContent()).toContain('"attempts": 3');

    // By level: errors only, then info and worse.
    const levels = page.getByLabel('Level at least');
    await levels.selectOption('error');
    await expect.poll(() => page.locator('#logs tbody .log-level').allTextContents(), { timeout: UI_MS }).toEqual(['ERROR']);
    expect(await row('worker expired').count()).toBe(1);
    await levels.selectOption('info');
    await row('operation committed').waitFor();
    expect(await rows.count()).toBe(4);

    // A request id clicked: that request's lines only, across the programs; one shipped now shows up.
    await row('worker expired').getByRole('button', { name: rid }).click();
    await expect.poll(() => page.getByLabel('Request id').inputValue(), { timeout: UI_MS }).toBe(rid);
    await expect.poll(() => page.locator('#logs tbody .log-msg').allTextContents(), { timeout: UI_MS }).toEqual([`operation committed ${run}`, `worker expired ${run}`, `upstream slow ${run}`]);
    await ship(cluster.broker, 'gateway', `gw-${run}`, [{ level: 40, msg: `retry succeeded ${run}`, rid }]);
    await row('retry succeeded').waitFor({ timeout: UI_MS });
    expect(await page.locator('#logs tbody tr').count()).toBe(4);
    await screenshot(page, 'dashboard-logs.png', true);

    // A server's own lines, from its details: its instance at the default level.
    await page.locator('button.node[data-node="s1"]').click();
    await page.getByRole('button', { name: 'Show its logs' }).click();
    await expect.poll(() => page.getByLabel('Instance').inputValue(), { timeout: UI_MS }).toBe('s1');
    await expect.poll(() => levels.inputValue(), { timeout: UI_MS }).toBe('warn');
    await expect.poll(() => page.locator('#logs tbody .log-msg').allTextContents(), { timeout: UI_MS }).toEqual([`peer slow ${run}`]);
    expect(await axeViolations(page)).toEqual([]);

    // Hidden, the page reads nothing, though its dashboard socket goes on (a snapshot a second); visible again, it reads at once.
    const readsWhenHidden = await setVisibility(page, 'hidden');
    const messages = (await countsOf(page)).socketMessages;
    await expect.poll(async () => (await countsOf(page)).socketMessages, { timeout: UI_MS }).toBeGreaterThanOrEqual(messages + 4);
    expect((await countsOf(page)).logReads).toBe(readsWhenHidden);
    await setVisibility(page, 'visible');
    await expect.poll(async () => (await countsOf(page)).logReads, { timeout: UI_MS }).toBeGreaterThan(readsWhenHidden);
    expect((await countsOf(page)).mostOpenLogReads).toBe(1);
    await page.context().close();
  });

  it('shows a job enqueued by the test in the Tasks panel as it runs and finishes, and replays a dead letter from it', async () => {
    const run = Date.now().toString(36);
    const queue = `web-${run}`;
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'ana', password: 'ana has a good password' } });
    const headers = { authorization: `Bearer ${login.body.token}` };
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let declines = 1;
    const worker = new TaskWorker({
      broker: cluster.broker,
      auth: () => login.body.token,
      queues: [queue],
      pollMs: 1_000,
      handlers: {
        resize: async (_args: unknown, ctx: JobContext) => {
          ctx.progress({ done: 1, of: 2 });
          await released;
          return { width: 640 };
        },
        charge: () => {
          if (declines-- > 0) throw new PermanentJobError('card declined');
          return 'charged';
        },
      },
    }).start();
    try {
      const tasks = ana.locator('#tasks');
      const job = (id: string) => tasks.locator(`tr.task-job[data-job="${id}"]`);
      const details = tasks.locator('#task-details');
      // A job enqueued through the gateway; its lease_ms makes the worker heartbeat (and report progress) every second.
      const resize = `${queue}-resize`;
      expect((await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'resize', args: { image: 'cat.png' }, id: resize, lease_ms: 3000 }, headers })).status).toBe(200);
      await tasks.getByRole('button', { name: queue, exact: true }).click();
      await expect.poll(() => job(resize).locator('.task-state').textContent(), { timeout: UI_MS }).toBe('active');
      expect(await tasks.getByRole('button', { name: `1 active in ${queue}` }).count()).toBe(1);
      await job(resize).getByRole('button', { name: `Cancel job ${resize}` }).waitFor();
      expect(await job(resize).locator('.task-attempts').textContent()).toBe('1/3');
      await job(resize).getByRole('button', { name: resize, exact: true }).click();
      await details.getByRole('heading', { name: `Job ${resize}` }).waitFor();
      expect(await details.locator('[data-value="Arguments"] pre').textContent()).toBe(JSON.stringify({ image: 'cat.png' }, null, 2));
      await expect.poll(() => details.locator('[data-value="Progress"] pre').textContent(), { timeout: UI_MS }).toBe(JSON.stringify({ done: 1, of: 2 }, null, 2));
      release();
      await expect.poll(() => job(resize).locator('.task-state').textContent(), { timeout: UI_MS }).toBe('succeeded');
      await expect.poll(() => details.locator('[data-value="Result"] pre').textContent(), { timeout: UI_MS }).toBe(JSON.stringify({ width: 640 }, null, 2));
      expect(await job(resize).getByRole('button').count()).toBe(1);

      // A job that fails for good: a dead letter, shown with its error, replayed from the panel.
      const charge = `${queue}-charge`;
      expect((await http(`${gateway.url}/v1/tasks`, { body: { queue, task: 'charge', args: { cents: 500 }, id: charge }, headers })).status).toBe(200);
      await tasks.getByRole('button', { name: `1 dead in ${queue}` }).click({ timeout: UI_MS });
      await expect.poll(() => tasks.locator('tr.task-job').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-job'))), { timeout: UI_MS }).toEqual([charge]);
      expect(await job(charge).locator('.task-error').textContent()).toBe('PermanentJobError: card declined');
      await job(charge).getByRole('button', { name: charge, exact: true }).click();
      await details.getByRole('heading', { name: `Job ${charge}` }).waitFor();
      expect(await axeViolations(ana)).toEqual([]);
      await screenshot(ana, 'dashboard-tasks.png', true);
      await job(charge).getByRole('button', { name: `Retry job ${charge}` }).click();
      await tasks.getByText(`Job ${charge} queued again.`).waitFor();
      // Off the dead letters now; its details follow it to its result.
      await expect.poll(() => tasks.locator('tr.task-job').count(), { timeout: UI_MS }).toBe(0);
      await expect.poll(() => details.locator('.facts').textContent(), { timeout: UI_MS }).toMatch(/Statesucceeded.*Attempt1 of 3/);
      expect(await details.locator('[data-value="Result"] pre').textContent()).toBe('"charged"');
      await tasks.getByRole('combobox', { name: /^State/ }).selectOption('');
      await expect.poll(() => tasks.locator('tr.task-job .task-state').allTextContents(), { timeout: UI_MS }).toEqual(['succeeded', 'succeeded']);
      expect(await tasks.locator(`tr[data-queue="${queue}"] td[data-state="succeeded"]`).textContent()).toBe('2');
    } finally {
      release();
      await worker.stop({ graceMs: 0 });
    }
  });

  it('tells a user who is not an operator, in the Logs panel, why it shows no lines', async () => {
    expect((await http(`${gateway.url}/v1/register`, { body: { user: 'bo', password: 'bo has a good password' } })).status).toBe(201);
    const bo = await newPage(browser);
    await logIn(bo, gateway.url, 'bo');
    await bo.locator('#logs').getByText('Only operators can read the logs: start the servers with --operators <you>, then log in again.').waitFor();
    expect(await bo.locator('#logs tbody tr').count()).toBe(0);
    await bo.context().close();
  });

  it('shows the killed coordinator down within the heartbeat bound, the new coordinator, and the server back up once restarted', async () => {
    const old = (await markedCoordinator(ana))!;
    const rank = Number(/rank (\d+)/.exec((await ana.locator(`button.node[data-node="${old}"]`).textContent())!)![1]);
    const cameUp = `${old} (rank ${rank}) is up`;
    const upBefore = await timelineEntries(ana, cameUp);
    const child = cluster.servers.find((server) => server.name === `server ${old}`)!;
    const killedAt = Date.now();
    child.kill('SIGKILL');
    // Down as soon as its /health stops answering, and the reference server's word within its heartbeat bound.
    await ana.locator(`button.node.state-down[data-node="${old}"]`).waitFor({ timeout: REF_DOWN_MS + DASHBOARD_LAG_MS + BUSY_MARGIN_MS });
    const shownDownMs = Date.now() - killedAt;
    await expect.poll(() => timelineEntries(ana, `${old} (rank ${rank}) is down`), { timeout: REF_DOWN_MS + DASHBOARD_LAG_MS + BUSY_MARGIN_MS }).toBe(1);
    const refDownMs = Date.now() - killedAt;
    await expect.poll(async () => [null, old].includes(await markedCoordinator(ana)), { timeout: UI_MS }).toBe(false);
    const successor = (await markedCoordinator(ana))!;
    expect(await ana.locator(`button.node[data-node="${successor}"]`).getAttribute('class')).toContain('state-up');
    await expect.poll(() => ana.locator('.timeline .kind-election .event-text', { hasText: `${successor} (rank ` }).count(), { timeout: UI_MS }).toBeGreaterThan(0);
    console.log(`dashboard: ${old} shown down ${shownDownMs} ms after SIGKILL, the reference server's "down" on the timeline after ${refDownMs} ms (bound ${REF_DOWN_MS + DASHBOARD_LAG_MS} ms + ${BUSY_MARGIN_MS} ms margin); new coordinator ${successor}`);

    await startServer(cluster, old, ['s1', 's2', 's3'].filter((id) => id !== old));
    await ana.locator(`button.node.state-up[data-node="${old}"]`).waitFor({ timeout: UI_MS });
    await expect.poll(() => timelineEntries(ana, cameUp), { timeout: UI_MS }).toBe(upBefore + 1);
  });
});

const START = Date.UTC(2026, 11, 6, 12, 0, 0);

/** A three-server system at snapshot `step` (one a second): s3 the coordinator, s1 with a clock drifting back each round. */
function systemAt(step: number, events: GatewayDashboard['events'] = []): GatewayDashboard {
  const at = START + step * 1000;
  const common = { state: 'up' as const, status: 'ok', version: '0.1.0', uptime_ms: 60_000 + step * 1000, rss_bytes: 80 * 1024 ** 2, cpu_permille: 40 + step };
  const server = (rank: number): DashboardNode => ({
    ...common,
    id: `s${rank}`,
    kind: 'server',
    rank,
    role: rank === 3 ? 'coordinator' : 'follower',
    http: `http://127.0.0.1:${9110 + rank}`,
    last_heartbeat: at - 300,
    clock_offset_us: rank === 1 ? 1500 - step * 100 : rank === 2 ? -250 : 0,
    lamport: 100 + step * rank,
    requests: 10 * rank,
    errors: rank === 2 ? 1 : 0,
    store_ops: 1000 + step,
    store_bytes: 2 * 1024 ** 2,
    replication_lag_ops: rank === 1 ? 3 : 0,
    high_water_marks: [1, 2, 3].map((origin) => ({ origin: `s${origin}`, seq: 300 + origin * 10 + step })),
    recent_ops: [{ origin: `s${rank}`, seq: 330 + step, kind: 'publish', at: at - 50, summary: `ana in #general` }],
  });
  return {
    at,
    interval_ms: 1000,
    gateway: 'g1',
    coordinator: 's3',
    nodes: [
      { ...common, id: 'g1', kind: 'gateway' },
      { ...common, id: 'broker', kind: 'broker' },
      { ...common, id: 'proxy', kind: 'proxy' },
      { ...common, id: 'ref', kind: 'ref' },
      server(1),
      server(2),
      server(3),
    ],
    services: [
      { name: 'chat', workers: 3, idle: 2, queue_depth: step % 3, in_flight: 1, requests: 60 + step, errors: 1, p50_us: 800, p99_us: 4200 },
      { name: 'ref', workers: 1, idle: 1, queue_depth: 0, requests: 3, errors: 0, p50_us: 300, p99_us: 900 },
    ],
    events,
  };
}

const ELECTED = { at: START - 5000, kind: 'election' as const, node: 's3', term: 2, text: 's3 is the coordinator (term 2)' };
const JOINED = { at: START - 8000, kind: 'membership' as const, node: 's1', state: 'up', text: 's1 joined' };

/** Sends snapshot `step` and waits until the page has drawn it (the charts count their points). */
async function deliver(page: Page, step: number, points: number, events: GatewayDashboard['events'] = []): Promise<void> {
  scripted.send(systemAt(step, events));
  await page.locator(`figure[data-chart="requests"][data-points="${points}"]`).waitFor();
}

describe('the dashboard against a scripted gateway', () => {
  let ana: Page;

  it('shows an operator the topology, the charts and the timeline, updated in place each snapshot', async () => {
    ana = await newPage(browser);
    await logIn(ana, scripted.url, 'ana');
    await expect.poll(() => scripted.operatorSockets(), { timeout: UI_MS }).toBe(1);
    await deliver(ana, 0, 1, [JOINED, ELECTED]);

    for (const rank of [1, 2, 3]) await ana.getByRole('button', { name: new RegExp(`^s${rank} server · rank ${rank} up`) }).waitFor();
    await ana.getByRole('button', { name: /^s3 server · rank 3 up coordinator/ }).waitFor();
    expect(await ana.getByRole('button', { name: /coordinator/ }).count()).toBe(1);
    for (const id of ['g1', 'broker', 'proxy', 'ref']) await ana.locator(`button.node[data-node="${id}"]`).waitFor();
    // Every link drawn: gateway to broker and proxy, each server to broker, proxy and ref.
    expect(await ana.locator('.topology line').count()).toBe(2 + 3 * 3);

    const canvas = await ana.locator('figure[data-chart="requests"] canvas').elementHandle();
    for (let step = 1; step <= 4; step++) await deliver(ana, step, step + 1, step === 2 ? [JOINED, ELECTED] : []);
    // The same canvas, fed in place; the latest values in the table screen readers get.
    expect(await canvas!.evaluate((element) => element.isConnected)).toBe(true);
    expect(await ana.locator('canvas').count()).toBe(8);
    await ana.getByRole('figure', { name: 'Requests per second, by service (req/s)' }).waitFor();
    expect(await ana.getByRole('img', { name: /: the last five minutes; latest values in the table that follows$/ }).count()).toBe(8);
    const requests = ana.getByRole('table', { name: 'Requests per second, by service: latest values' });
    await expect.poll(() => requests.getByRole('row', { name: 'chat' }).textContent()).toBe('chat64 req/s64 req/s');
    const clocks = ana.getByRole('table', { name: 'Clock offset against the coordinator, by server: latest values' });
    // s1's clock drifting back round by round: latest 1.1 ms, highest 1.5 ms.
    expect(await clocks.getByRole('row', { name: 's1' }).textContent()).toBe('s11.100 ms1.500 ms');

    // The timeline: each event once though the second snapshot repeated them, newest first.
    const events = ana.locator('.timeline li');
    expect(await events.count()).toBe(2);
    expect(await events.first().textContent()).toContain('s3 is the coordinator (term 2)');
  });

  it('drills down into a server and a service from the keyboard', async () => {
    await ana.locator('button.node[data-node="s2"]').focus();
    await ana.keyboard.press('Enter');
    await ana.getByRole('heading', { name: 'server s2' }).waitFor();
    await ana.locator('#details:focus').waitFor();
    const details = ana.locator('#details');
    const marks = details.getByRole('table', { name: /High-water marks/ });
    expect(await marks.getByRole('row').count()).toBe(4);
    expect(await marks.getByRole('row', { name: 's3' }).textContent()).toBe('s3334');
    expect(await details.getByRole('table', { name: 'Newest operations' }).getByRole('row').nth(1).textContent()).toContain('s2:334publishana in #general');
    expect(await details.textContent()).toMatch(/Clock offset against the coordinator-0\.25 ms/);
    expect(await details.textContent()).toMatch(/Lamport clock108/);
    expect(await details.textContent()).toMatch(/Last heartbeat.*\(0 s before this snapshot\)/);

    await ana.getByRole('button', { name: 'chat', exact: true }).focus();
    await ana.keyboard.press('Enter');
    await ana.getByRole('heading', { name: 'Service chat' }).waitFor();
    expect(await details.textContent()).toMatch(/Workers3Idle workers2In flight1Queue at the broker1Requests64 \/sErrors1 \/sLatency p500\.80 msLatency p994\.20 ms/);
  });

  it('has no accessibility violations, and moves nothing for who asks for reduced motion', async () => {
    expect(await axeViolations(ana)).toEqual([]);
    const transition = () => ana.locator('button.node[data-node="s1"]').evaluate((element) => (globalThis as unknown as { getComputedStyle(element: unknown): { transitionDuration: string } }).getComputedStyle(element).transitionDuration);
    await ana.emulateMedia({ reducedMotion: 'reduce' });
    expect(await transition()).toBe('0s');
    await ana.emulateMedia({ reducedMotion: 'no-preference' });
    expect(await transition()).not.toBe('0s');
  });

  it('says when the gateway is gone, retries with backoff, and carries on when it is back', async () => {
    const before = scripted.attempts();
    scripted.drop(true);
    await ana.getByText(/Connection to the gateway lost: reconnecting at .*Showing the snapshot of/).waitFor();
    await expect.poll(() => scripted.attempts(), { timeout: UI_MS }).toBeGreaterThanOrEqual(before + 2);
    scripted.accept();
    await expect.poll(() => scripted.operatorSockets(), { timeout: UI_MS }).toBe(1);
    await deliver(ana, 5, 6, [JOINED, ELECTED]);
    await ana.locator('.banner[data-status="live"]').waitFor({ state: 'attached' });
    expect(await ana.locator('.banner').textContent()).toBe('');
    expect(await ana.locator('.timeline li').count()).toBe(2);
  });

  it('tells a user who is not an operator how to become one', async () => {
    const bo = await newPage(browser);
    await logIn(bo, scripted.url, 'bo');
    await bo.getByRole('alert').getByText('This account is not an operator; start the servers with --operators <you>, then log in again.').waitFor();
    expect(await axeViolations(bo)).toEqual([]);
    await bo.context().close();
  });
});
