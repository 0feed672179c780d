// The browser chat (apps/web) served by the gateway at /, driven in Debian's Chromium through
// playwright-core against real processes (broker, proxy, a chat server in password mode, the gateway):
// two sessions chat live (channel and direct messages, unread counts, Lamport clock and origin on
// hover), one goes offline and gets what it missed exactly once, history scrolls back page by page,
// both chat with a Python peer (peers/python, over ZeroMQ), axe-core finds no serious or critical
// violation. Also the static serving: cache headers, the page
// fallback that never shadows the API, and the 404 that says the app is not built.
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir, waitFor } from '@correio/testing';
import { UI_MS, axeViolations, launchBrowser, newPage, screenshot } from './helpers/browser.js';
import { CLUSTER_START_MS, http, startCluster, startGateway, type Cluster, type GatewayProcess } from './helpers/cluster.js';
import { PeerChat, requirePeerToolchains } from './helpers/peerChat.js';

let cluster: Cluster;
let gateway: GatewayProcess;
let browser: Browser;
let ana: Page;
let bo: Page;

beforeAll(async () => {
  requirePeerToolchains();
  browser = await launchBrowser();
  cluster = await startCluster(1, 'password');
  gateway = await startGateway(cluster);
  [ana, bo] = await Promise.all([openSession('ana'), openSession('bo')]);
}, CLUSTER_START_MS);

afterAll(async () => {
  await browser?.close();
});

/** A browser context of its own (own session storage), registered and logged in through the form. */
async function openSession(user: string): Promise<Page> {
  const page = await newPage(browser);
  await page.goto(gateway.url);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password (8 characters or more)').fill(`${user} has a good password`);
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByText(`Signed in as ${user}`).waitFor();
  return page;
}

async function joinChannel(page: Page, channel: string): Promise<void> {
  await page.getByLabel('Join or create a channel').fill(channel);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: `#${channel}`, level: 1 }).waitFor();
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#composer-text').fill(text);
  await page.locator('#composer-text').press('Enter');
  await expect.poll(() => page.locator('#composer-text').inputValue(), { timeout: UI_MS }).toBe('');
}

/** The messages shown with exactly this text. */
const shown = (page: Page, text: string) => page.locator('.message .text', { hasText: new RegExp(`^${text}$`) });

async function seenOnce(page: Page, text: string): Promise<void> {
  await shown(page, text).first().waitFor();
  expect(await shown(page, text).count(), text).toBe(1);
}

const seriousViolations = (page: Page) => axeViolations(page, ['serious', 'critical']);

describe('the browser chat', () => {
  it('lets two sessions chat live in a channel and by direct message, with unread counts and clocks on hover', async () => {
    await joinChannel(ana, 'general');
    await joinChannel(bo, 'general');
    await say(ana, 'hello bo');
    await seenOnce(bo, 'hello bo');
    await say(bo, 'hi ana');
    await seenOnce(ana, 'hi ana');
    const message = shown(ana, 'hi ana').locator('xpath=..');
    expect(await message.getAttribute('title')).toMatch(/^Lamport clock \d+ · origin server s1 \(op \d+\)/);

    // A channel ana is not looking at counts what arrives there.
    await joinChannel(ana, 'random');
    await ana.getByRole('button', { name: /^#general/ }).click();
    await joinChannel(bo, 'random');
    await say(bo, 'over here');
    await ana.getByRole('button', { name: /^#random.*1 unread/ }).waitFor();

    // Direct messages: bo writes to ana, who sees the count by bo's name, then the message.
    await bo.getByRole('button', { name: /^ana/ }).click();
    await bo.getByRole('heading', { name: 'Direct messages with ana' }).waitFor();
    await say(bo, 'psst ana');
    await ana.getByRole('button', { name: /^bo.*1 unread/ }).waitFor();
    await ana.getByRole('button', { name: /^bo/ }).click();
    await seenOnce(ana, 'psst ana');
    await say(ana, 'psst bo');
    await seenOnce(bo, 'psst bo');
    // Presence from last-seen (bo logged in when registering), read with the people list.
    await ana.getByRole('button', { name: /^bo (active now|seen \d+ min ago)/ }).waitFor();
  });

  it('shows what was sent while a session was offline once it reconnects, exactly once', async () => {
    await bo.getByRole('button', { name: /^#general/ }).click();
    await seenOnce(bo, 'hi ana');
    await bo.context().setOffline(true);
    await bo.locator('.banner[data-status="offline"]').waitFor();
    await ana.getByRole('button', { name: /^#general/ }).click();
    for (const text of ['missed one', 'missed two', 'missed three']) await say(ana, text);
    // A channel bo is not looking at: only the stream's resume (after, per origin) brings this back.
    await ana.getByRole('button', { name: /^#random/ }).click();
    await say(ana, 'missed elsewhere');
    await ana.getByRole('button', { name: /^bo/ }).click();
    await say(ana, 'missed direct');

    await bo.context().setOffline(false);
    await bo.getByText('Reconnected: caught up on missed messages.').waitFor();
    for (const text of ['missed one', 'missed two', 'missed three', 'hello bo', 'hi ana']) await seenOnce(bo, text);
    await bo.getByRole('button', { name: /^#random.*1 unread/ }).click();
    for (const text of ['missed elsewhere', 'over here']) await seenOnce(bo, text);
    await bo.getByRole('button', { name: /^ana.*1 unread/ }).waitFor();
    await bo.getByRole('button', { name: /^ana/ }).click();
    for (const text of ['missed direct', 'psst ana', 'psst bo']) await seenOnce(bo, text);
  });

  it('reads older history as the view scrolls up (the cursor API), each message once', async () => {
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'ana', password: 'ana has a good password' } });
    const headers = { authorization: `Bearer ${login.body.token}` };
    expect((await http(`${gateway.url}/v1/channels`, { body: { channel: 'archive' }, headers })).status).toBe(200);
    for (let index = 1; index <= 80; index++) expect((await http(`${gateway.url}/v1/channels/archive/messages`, { body: { text: `old ${index}` }, headers })).status).toBe(200);

    await joinChannel(ana, 'archive');
    await seenOnce(ana, 'old 80');
    expect(await shown(ana, 'old 1').count()).toBe(0);
    await ana.locator('.messages').evaluate((view) => view.scrollTo(0, 0));
    await seenOnce(ana, 'old 1');
    expect(await ana.locator('.messages .message').count()).toBe(80);
    await expect.poll(() => ana.getByRole('button', { name: 'Load older messages' }).count()).toBe(0);
  });

  it('draws only the newest 200 of a busy channel at the bottom, and the rest as the view scrolls up, each once', async () => {
    const login = await http(`${gateway.url}/v1/login`, { body: { user: 'bo', password: 'bo has a good password' } });
    const headers = { authorization: `Bearer ${login.body.token}` };
    expect((await http(`${gateway.url}/v1/channels`, { body: { channel: 'busy' }, headers })).status).toBe(200);
    await joinChannel(ana, 'busy');
    // Live, while ana looks at the channel: all 230 arrive over the stream and are held.
    for (let index = 1; index <= 230; index++) expect((await http(`${gateway.url}/v1/channels/busy/messages`, { body: { text: `busy ${index}` }, headers })).status).toBe(200);
    await seenOnce(ana, 'busy 230');
    await expect.poll(() => ana.locator('.messages .message').count(), { timeout: UI_MS }).toBe(200);
    expect(await shown(ana, 'busy 30').count()).toBe(0);
    await ana.locator('.messages').evaluate((view) => view.scrollTo(0, 0));
    await seenOnce(ana, 'busy 1');
    expect(await ana.locator('.messages .message').count()).toBe(230);
    await joinChannel(ana, 'general');
  });

  it('refreshes a refused access token and carries on, over HTTP and the stream', async () => {
    // The stored access token replaced by one the servers refuse: the app must refresh it.
    await bo.evaluate((key) => {
      const storage = (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void } }).sessionStorage;
      storage.setItem(key, JSON.stringify({ ...(JSON.parse(storage.getItem(key)!) as object), token: 'not-a-valid-token' }));
    }, 'correio.session');
    await bo.reload();
    await bo.getByRole('button', { name: /^#general/ }).click();
    await seenOnce(bo, 'missed three');
    await ana.getByRole('button', { name: /^#general/ }).click();
    await say(ana, 'after the refresh');
    await seenOnce(bo, 'after the refresh');
  });

  it('has no serious or critical accessibility violations, logged out or chatting; the chat is photographed', async () => {
    const loginPage = await newPage(browser);
    await loginPage.goto(gateway.url);
    await loginPage.getByLabel('User name').waitFor();
    expect(await seriousViolations(loginPage)).toEqual([]);
    await loginPage.context().close();
    await ana.getByRole('button', { name: /^#general/ }).click();
    await seenOnce(ana, 'missed three');
    expect(await seriousViolations(ana)).toEqual([]);
    // An unread count in the picture.
    await bo.getByRole('button', { name: /^#random/ }).click();
    await say(bo, 'anyone here?');
    await ana.getByRole('button', { name: /^#random.*1 unread/ }).waitFor();
    expect(existsSync(await screenshot(ana, 'chat.png'))).toBe(true);
  });

  it('chats with a Python peer over ZeroMQ, in a channel and by direct message, both ways', async () => {
    const password = 'carla has a good password';
    const carla = await PeerChat.python({ broker: cluster.broker, proxy: cluster.proxySub, user: 'carla-py', service: 'chat' }).ready();
    try {
      await carla.run('register', { password });
      await carla.run('login', { password });
      await carla.run('create_channel', { channel: 'polyglot' });
      await carla.run('join', { channel: 'polyglot' });
      // Carla's subscription reaches the server through the proxy a moment after she makes it: she
      // publishes until she hears herself, so what the browsers say next is sure to reach her.
      let warmUps = 0;
      await waitFor(async () => {
        if (carla.events('publication').some((event) => event.message.user === 'carla-py')) return true;
        await carla.run('publish', { channel: 'polyglot', text: `warm-up ${++warmUps}` });
        return false;
      }, "carla's own publication back through the proxy", UI_MS, 250);

      await joinChannel(ana, 'polyglot');
      await joinChannel(bo, 'polyglot');
      await carla.run('publish', { channel: 'polyglot', text: 'olá from Python' });
      await seenOnce(ana, 'olá from Python');
      await seenOnce(bo, 'olá from Python');
      await say(bo, 'hello carla');
      await carla.child.waitForLine((line) => line.includes('"hello carla"'), UI_MS);
      expect(carla.events('publication').filter((event) => event.message.text === 'hello carla')).toHaveLength(1);

      await carla.run('direct', { to: 'ana', text: 'psst from Python' });
      await ana.getByRole('button', { name: /^carla-py.*1 unread/ }).waitFor();
      await ana.getByRole('button', { name: /^carla-py/ }).click();
      await seenOnce(ana, 'psst from Python');
      await say(ana, 'psst back');
      await carla.child.waitForLine((line) => line.includes('"psst back"'), UI_MS);
      expect(carla.events('direct').filter((event) => event.message.from === 'ana' && event.message.text === 'psst back')).toHaveLength(1);
    } finally {
      await carla.close();
    }
  });
});

describe('the gateway serving the app', () => {
  it('caches hashed assets for good and revalidates pages; falls back to the app for pages, never for its own paths', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const html = await page.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const script = await fetch(`${gateway.url}${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(script.headers.get('content-type')).toMatch(/javascript/);

    const deepLink = await fetch(`${gateway.url}/some/page`, { headers: { accept: 'text/html' } });
    expect(deepLink.status).toBe(200);
    expect(await deepLink.text()).toBe(html);
    for (const path of ['/v1/nothing', '/v1', '/health/x', '/metrics/x', '/openapi.json/x']) {
      const miss = await http(`${gateway.url}${path}`, { headers: { accept: 'text/html' } });
      expect(miss.status, path).toBe(404);
      expect(miss.body.code, path).toBe('NOT_FOUND');
    }
    expect((await http(`${gateway.url}/openapi.json`)).body.openapi).toMatch(/^3\.1/);
    expect((await fetch(`${gateway.url}/docs/`, { headers: { accept: 'text/html' } })).headers.get('content-type')).toMatch(/text\/html/);
    expect((await http(`${gateway.url}/health`)).status).toBe(200);
  });

  it('says how to build the app when it is not built', async () => {
    const empty = scratchDir('correio-web-');
    try {
      const bare = await startGateway(cluster, ['--web-root', empty.dir], 'gateway without app');
      const page = await fetch(bare.url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(404);
      expect(await page.text()).toMatch(/not built.*npm run build/);
      expect((await http(`${bare.url}/v1/nothing`)).body.code).toBe('NOT_FOUND');
      await bare.child.stop();
    } finally {
      empty.remove();
    }
  }, 90_000);
});
