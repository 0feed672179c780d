// Shared by the browser tests of apps/web: Debian's Chromium driven by playwright-core (no browser
// download), the built app's location, axe-core, and where screenshots go.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { workspaceRoot } from '@correio/testing';

export const CHROMIUM = process.env.CORREIO_CHROMIUM ?? '/usr/bin/chromium';
export const WEB_DIST = join(workspaceRoot, 'apps', 'web', 'dist');
/** Playwright's waits: bounded, generous for a busy 2-core machine. */
export const UI_MS = 20_000;
// Written by every run under tmp/; CORREIO_UPDATE_SCREENSHOTS=1 writes the READMEs' copies in docs/screenshots instead.
const SCREENSHOT_DIR = process.env.CORREIO_UPDATE_SCREENSHOTS === '1' ? join(workspaceRoot, 'docs', 'screenshots') : join(workspaceRoot, 'tmp', 'screenshots');
const axeScript = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Chromium, once apps/web is built and the browser is installed (clear errors otherwise). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(join(WEB_DIST, 'index.html'))) throw new Error(`${WEB_DIST} is not built: run \`npx nx build @correio/web\` (nx runs it before these tests)`);
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (.ci/run does), or set CORREIO_CHROMIUM`);
  // As root (CI, containers) Chromium runs only without its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

/** A page in a context of its own (own session storage). */
export async function newPage(browser: Browser, viewport = { width: 1100, height: 700 }): Promise<Page> {
  // bypassCSP: axe-core is injected as an inline script, which the gateway's CSP rightly refuses.
  const context = await browser.newContext({ bypassCSP: true, viewport });
  context.setDefaultTimeout(UI_MS);
  return context.newPage();
}

export interface AxeViolation {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly string[] }[];
}

/** Every axe-core violation on the page, as "rule (impact): help — elements". */
export async function axeViolations(page: Page, impacts: readonly string[] = ['minor', 'moderate', 'serious', 'critical']): Promise<string[]> {
  await page.addScriptTag({ path: axeScript });
  const results = await page.evaluate(async () => (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run());
  return results.violations.filter((violation) => impacts.includes(violation.impact)).map((violation) => `${violation.id} (${violation.impact}): ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
}

/** Writes the page's screenshot `name` (tmp/screenshots, or docs/screenshots with CORREIO_UPDATE_SCREENSHOTS=1); its path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, name);
  await page.screenshot({ path, fullPage });
  return path;
}
