// Browser benchmark of the web app (apps/web) that the gateway serves, in Debian's Chromium
// (playwright-core), against the whole local system as `correio up --servers 3` starts it:
//   1. bundle size: the gzip bytes of the scripts and styles each page loads (/, /dashboard), next to
//      the gateway's Swagger UI (/docs) as a yardstick measured the same way;
//   2. time to first meaningful paint of /dashboard (cold cache, logged in): first contentful paint,
//      and the moment the topology shows every server, median of several loads; /docs' first
//      contentful paint as the baseline of this machine;
//   3. responsiveness with 100 msg/s flowing into the channel the chat shows and the dashboard open:
//      frame gaps (requestAnimationFrame) and long tasks over a 30 s trace, against the same pages idle
//      and against a page without the app traced at the same time (what the machine's load alone does).
//   npm run bench:web [-- --rate 100 --seconds 30 --loads 5]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { arg } from './peers/args.js';
import { spawnPeer, workspaceRoot } from './processes.js';
import { percentile, sortSamples } from './stats.js';

const RATE = Number(arg('rate', '100'));
const SECONDS = Number(arg('seconds', '30'));
const LOADS = Number(arg('loads', '5'));
/** Also profile each page's main thread under load and print where its time went. */
const PROFILE = arg('profile', 'no') !== 'no';
const SERVERS = 3;
const CHROMIUM = process.env['CORREIO_CHROMIUM'] ?? '/usr/bin/chromium';
const PASSWORD = 'a benchmark password';
const CHANNEL = 'load';
const WEB_DIST = join(workspaceRoot, 'apps', 'web', 'dist');

interface Session {
  readonly user: string;
  readonly token: string;
  readonly refreshToken: string;
  readonly expiresAt: number;
}

/** `correio up` with its own data directory and free ports; stopped with SIGTERM, as a user would. */
async function startSystem(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  // Publishing at RATE through one token needs more than the gateway's default per-token limit.
  process.env['CORREIO_GATEWAY_RATE_TOKEN'] = '1000000';
  process.env['CORREIO_GATEWAY_RATE_IP'] = '1000000';
  const cli = join(workspaceRoot, 'apps', 'cli', 'src', 'main.ts');
  const up = spawnPeer(process.execPath, ['--import', 'tsx', '--conditions=@correio/source', cli, 'up', '--servers', String(SERVERS), '--bots', '0', '--free-ports', '--fresh', '--data-dir', dataDir, '--color', 'never']);
  const line = await up.line(/gateway: http:\/\//, 180_000);
  const url = /gateway: (http:\/\/\S+)/.exec(line)![1]!;
  return {
    url,
    stop: async () => {
      const child = up.process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function post(url: string, body: unknown, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Registers `user` and logs in, retrying while the cluster is still getting ready. */
async function account(gateway: string, user: string): Promise<Session> {
  const deadline = Date.now() + 120_000;
  let registered = false;
  for (;;) {
    if (!registered) registered = [201, 409].includes((await post(`${gateway}/v1/register`, { user, password: PASSWORD })).status);
    const login = registered ? await post(`${gateway}/v1/login`, { user, password: PASSWORD }) : undefined;
    if (login?.status === 200) {
      const body = login.body as { token: string; refresh_token: string; expires_at: number };
      return { user, token: body.token, refreshToken: body.refresh_token, expiresAt: body.expires_at };
    }
    if (Date.now() > deadline) throw new Error(`could not register and log in ${user} within 2 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Records, while __trace.recording is set, every gap between animation frames and every long task (a
 * task over 50 ms on the main thread): what a user feels as jank.
 */
const TRACE_RECORDER = `
const trace = { gaps: [], frames: 0, longTasks: [], recording: false, last: 0 };
globalThis.__trace = trace;
function frame(now) {
  if (trace.recording) {
    if (trace.last > 0) trace.gaps.push(now - trace.last);
    trace.frames++;
  }
  trace.last = now;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
new PerformanceObserver((list) => {
  if (trace.recording) for (const entry of list.getEntries()) trace.longTasks.push(entry.duration);
}).observe({ type: 'longtask' });
`;

/** A fresh context (empty cache) whose tab starts logged in as `session`, with frame and long-task recorders. */
async function loggedIn(browser: Browser, session: Session): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // A string, not a function: tsx's esbuild wraps named functions in a __name() helper the page lacks.
  await context.addInitScript({ content: `sessionStorage.setItem('correio.session', ${JSON.stringify(JSON.stringify(session))});\n${TRACE_RECORDER}` });
  return context;
}

/** The gzip bytes of every script and style a page loads (what a browser downloads, compressed). */
async function pageWeight(page: Page, url: string): Promise<{ files: number; gzip: number }> {
  const bodies: Promise<Buffer | undefined>[] = [];
  page.on('response', (response) => {
    if (['script', 'stylesheet'].includes(response.request().resourceType())) bodies.push(response.body().catch(() => undefined));
  });
  await page.goto(url, { waitUntil: 'networkidle' });
  const read = (await Promise.all(bodies)).filter((body): body is Buffer => body !== undefined);
  return { files: read.length, gzip: read.reduce((sum, body) => sum + gzipSync(body, { level: 9 }).length, 0) };
}

/** Resolves once the topology shows every server up; the page's text in the error otherwise. */
async function everyServerDrawn(page: Page): Promise<void> {
  try {
    // The topology's server buttons marked up (apps/web/src/dashboard/NodeCard.tsx).
    const drawn = (servers: number) => (globalThis as unknown as { document: { querySelectorAll(selector: string): { length: number } } }).document.querySelectorAll('button.node.state-up[data-node^="srv-"]').length >= servers;
    await page.waitForFunction(drawn, SERVERS, { timeout: 60_000 });
  } catch (error) {
    throw new Error(`the dashboard did not show ${SERVERS} servers up in 60 s; it shows: ${(await page.locator('body').innerText()).slice(0, 600)}`, { cause: error });
  }
}

const fcp = (page: Page) => page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN);
const median = (values: number[]) => percentile(sortSamples(values), 50);

/** Cold loads of /dashboard: first contentful paint, and every server drawn in the topology. */
async function dashboardPaint(browser: Browser, gateway: string, session: Session): Promise<{ fcp: number; meaningful: number }> {
  const firstPaints: number[] = [];
  const meaningful: number[] = [];
  for (let load = 0; load < LOADS; load++) {
    const context = await loggedIn(browser, session);
    const page = await context.newPage();
    await page.goto(`${gateway}/dashboard`);
    await everyServerDrawn(page);
    meaningful.push(await page.evaluate(() => performance.now()));
    firstPaints.push(await fcp(page));
    await context.close();
  }
  return { fcp: median(firstPaints), meaningful: median(meaningful) };
}

async function docsPaint(browser: Browser, gateway: string): Promise<number> {
  const paints: number[] = [];
  for (let load = 0; load < LOADS; load++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${gateway}/docs`, { waitUntil: 'load' });
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0, undefined, { timeout: 30_000 });
    paints.push(await fcp(page));
    await context.close();
  }
  return median(paints);
}

interface Trace {
  frames: number;
  gaps: number[];
  longTasks: number[];
}

async function record(pages: readonly Page[], seconds: number, during: () => Promise<number>): Promise<{ traces: Trace[]; sent: number }> {
  for (const page of pages) await page.evaluate(() => Object.assign((globalThis as unknown as { __trace: Trace & { recording: boolean } }).__trace, { recording: true, gaps: [], frames: 0, longTasks: [] }));
  const started = Date.now();
  const sent = await during();
  const left = seconds * 1000 - (Date.now() - started);
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  const traces = await Promise.all(pages.map((page) => page.evaluate(() => {
    const trace = (globalThis as unknown as { __trace: Trace & { recording: boolean } }).__trace;
    trace.recording = false;
    return { frames: trace.frames, gaps: trace.gaps, longTasks: trace.longTasks };
  })));
  return { traces, sent };
}

/** Publishes RATE messages a second for `seconds`, paced in 100 ms slices; resolves with the count acknowledged. */
async function publishLoad(gateway: string, token: string, seconds: number): Promise<number> {
  let acked = 0;
  const perSlice = RATE / 10;
  const slices = seconds * 10;
  const start = Date.now();
  const pending: Promise<void>[] = [];
  for (let slice = 0; slice < slices; slice++) {
    for (let index = 0; index < perSlice; index++) {
      pending.push(post(`${gateway}/v1/channels/${CHANNEL}/messages`, { text: `load ${slice}.${index}` }, token).then((reply) => void (reply.status === 200 && acked++)));
    }
    const wait = start + (slice + 1) * 100 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(pending);
  return acked;
}

/** Starts the page's JavaScript profiler; the returned function stops it and lists the functions with the most self time. */
async function startProfile(page: Page): Promise<() => Promise<string>> {
  const session = await page.context().newCDPSession(page);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 1000 });
  await session.send('Profiler.start');
  return async () => {
    const { profile } = await session.send('Profiler.stop');
    const self = new Map<string, number>();
    const intervals = profile.timeDeltas ?? [];
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    (profile.samples ?? []).forEach((id, index) => {
      const frame = byId.get(id)!.callFrame;
      const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop()}:${frame.lineNumber}`;
      self.set(name, (self.get(name) ?? 0) + (intervals[index] ?? 0) / 1000);
    });
    return [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, ms]) => `  ${ms.toFixed(0).padStart(6)} ms  ${name}`).join('\n');
  };
}

function frameRow(page: string, load: string, trace: Trace, seconds: number): string[] {
  const sorted = sortSamples(trace.gaps);
  const p99 = sorted.length > 0 ? percentile(sorted, 99) : 0;
  const longest = sorted.at(-1) ?? 0;
  return [page, load, (trace.frames / seconds).toFixed(0), p99.toFixed(1), longest.toFixed(0), String(trace.gaps.filter((gap) => gap > 100).length), String(trace.longTasks.length), trace.longTasks.reduce((a, b) => a + b, 0).toFixed(0)];
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  readFileSync(join(WEB_DIST, 'index.html')); // fails with ENOENT when the app is not built (npm run bench:web builds it)
  const dataDir = mkdtempSync(join(tmpdir(), 'correio-web-bench-'));
  const system = await startSystem(dataDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
  try {
    const gateway = system.url;
    // ana is the operator `correio up` names; bo reads the chat; the load comes from pub.
    const [ana, bo, pub] = [await account(gateway, 'ana'), await account(gateway, 'bo'), await account(gateway, 'pub')];
    const created = await post(`${gateway}/v1/channels`, { channel: CHANNEL }, pub.token);
    if (created.status !== 200) throw new Error(`creating #${CHANNEL}: ${created.status} ${JSON.stringify(created.body)}`);

    const weights = [];
    for (const [name, url, session] of [['/ (chat)', gateway, bo], ['/dashboard', `${gateway}/dashboard`, ana], ['/docs (Swagger UI, yardstick)', `${gateway}/docs`, undefined]] as const) {
      const context = session ? await loggedIn(browser, session) : await browser.newContext();
      weights.push([name, ...Object.values(await pageWeight(await context.newPage(), url)).map(String)]);
      await context.close();
    }
    const paint = await dashboardPaint(browser, gateway, ana);
    const docs = await docsPaint(browser, gateway);

    const chatContext = await loggedIn(browser, bo);
    const chat = await chatContext.newPage();
    await chat.goto(gateway);
    await chat.getByLabel('Join or create a channel').fill(CHANNEL);
    await chat.getByRole('button', { name: 'Join', exact: true }).click();
    const dashboardContext = await loggedIn(browser, ana);
    const dashboard = await dashboardContext.newPage();
    await dashboard.goto(`${gateway}/dashboard`);
    await everyServerDrawn(dashboard);
    // An empty page traced beside them: its frame gaps are the machine's (the cluster's CPU), not the app's.
    const blankContext = await loggedIn(browser, bo);
    const blank = await blankContext.newPage();
    await blank.goto(`${gateway}/health`);
    const pages = [chat, dashboard, blank];
    const idleSeconds = Math.min(10, SECONDS);
    const idle = await record(pages, idleSeconds, async () => 0);
    const profilers = PROFILE ? await Promise.all([chat, dashboard].map(startProfile)) : [];
    const loaded = await record(pages, SECONDS, () => publishLoad(gateway, pub.token, SECONDS));
    for (const [index, stop] of profilers.entries()) console.log(`\nmain-thread CPU under load, ${['chat', 'dashboard'][index]}, top self time:\n${await stop()}`);
    const shown = await chat.locator('.message').count();

    console.log(`\nweb app benchmark: correio up --servers ${SERVERS}, Chromium ${browser.version()}, ${LOADS} cold loads, ${RATE} msg/s for ${SECONDS} s\n`);
    console.log(table(['page', 'scripts + styles', 'gzip'], weights.map(([name, files, gzip]) => [name!, files!, kib(Number(gzip))])));
    console.log();
    console.log(table(['page (median of cold loads)', 'first contentful paint', 'every server drawn'], [
      ['/dashboard', `${paint.fcp.toFixed(0)} ms`, `${paint.meaningful.toFixed(0)} ms`],
      ['/docs (baseline)', `${docs.toFixed(0)} ms`, '—'],
    ]));
    console.log();
    const header = ['page', 'traffic', 'frames/s', 'p99 frame gap ms', 'longest gap ms', 'gaps > 100 ms', 'long tasks', 'long-task ms'];
    console.log(table(header, [
      frameRow('/ (chat, #load open)', `idle ${idleSeconds} s`, idle.traces[0]!, idleSeconds),
      frameRow('/ (chat, #load open)', `${RATE} msg/s`, loaded.traces[0]!, SECONDS),
      frameRow('/dashboard', `idle ${idleSeconds} s`, idle.traces[1]!, idleSeconds),
      frameRow('/dashboard', `${RATE} msg/s`, loaded.traces[1]!, SECONDS),
      frameRow('/health (no app: the baseline)', `idle ${idleSeconds} s`, idle.traces[2]!, idleSeconds),
      frameRow('/health (no app: the baseline)', `${RATE} msg/s`, loaded.traces[2]!, SECONDS),
    ]));
    console.log(`\n${loaded.sent} publications acknowledged in ${SECONDS} s; the chat shows ${shown} messages of #${CHANNEL}.`);
  } finally {
    await browser.close();
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
