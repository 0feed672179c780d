import { fetchBounded, type FetchLimits } from './boundedFetch.js';
import type { Scrape } from './nodeStats.js';
import { Metrics } from './prometheusText.js';

/** A scrape, or why there is none: the process did not answer /health at all. */
export type ScrapeResult = { readonly ok: true; readonly scrape: Scrape } | { readonly ok: false; readonly error: string };

/**
 * Reads `/health` and `/metrics` of the process serving `base` (its monitoring URL), both at once
 * and each within `limits`. Reachable means /health answered with any status (503 is "starting");
 * a /metrics that fails only leaves the numbers out.
 */
export async function scrapeProcess(base: string, limits: FetchLimits): Promise<ScrapeResult> {
  const root = base.replace(/\/+$/, '');
  const [health, metrics] = await Promise.allSettled([fetchBounded(`${root}/health`, limits), fetchBounded(`${root}/metrics`, limits)]);
  if (health.status === 'rejected') return { ok: false, error: describe(health.reason) };
  return {
    ok: true,
    scrape: {
      at: Date.now(),
      healthStatus: health.value.status,
      health: jsonObject(health.value.text),
      metrics: metrics.status === 'fulfilled' && metrics.value.status === 200 ? Metrics.parse(metrics.value.text) : undefined,
    },
  };
}

/** A JSON object's own fields, or undefined for anything else. JSON.parse makes `__proto__` an own key, never the prototype. */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
}
