import type { GatewayDashboard } from '@correio/protocol';
import { COMPONENT_SCHEMAS } from '../generated/protocolSchemas.js';
import { counterDelta } from './histogramQuantile.js';
import { total, type Metrics } from './prometheusText.js';

export type DashboardNode = GatewayDashboard['nodes'][number];

/** What one scrape of a process gave: its /health body and status, its metrics, when. */
export interface Scrape {
  readonly at: number;
  readonly healthStatus: number;
  readonly health: Readonly<Record<string, unknown>> | undefined;
  readonly metrics: Metrics | undefined;
}

const NODE_ID = new RegExp(String(COMPONENT_SCHEMAS['nodeId']?.['pattern']));
const MAX_UINT = Number.MAX_SAFE_INTEGER;
const ROLES = new Set(['coordinator', 'follower', 'candidate', 'standalone']);
const prefixed = (name: string) => [`correio_${name}`, name];

/**
 * The numbers of one process over an interval, from its scrape now and the one before: process
 * metrics (prom-client's defaults: RSS, CPU seconds, start time), its request and error counts,
 * and what its /health says (version, status; a server's rank, role, clock, store and replication).
 * Every field is checked against the dashboard schema and left out when it does not fit.
 */
export function nodeStats(now: Scrape, before: Scrape | undefined): Partial<DashboardNode> {
  return { ...processStats(now, before), ...callStats(now, before), ...healthStats(now.health) };
}

function processStats(now: Scrape, before: Scrape | undefined): Partial<DashboardNode> {
  const metrics = now.metrics;
  if (!metrics) return {};
  const rss = total(metrics.series(...prefixed('process_resident_memory_bytes')));
  const started = total(metrics.series(...prefixed('process_start_time_seconds')));
  const cpu = total(metrics.series(...prefixed('process_cpu_seconds_total')));
  const cpuBefore = before?.metrics ? total(before.metrics.series(...prefixed('process_cpu_seconds_total'))) : undefined;
  const spanMs = before ? now.at - before.at : 0;
  const permille = cpu !== undefined && cpuBefore !== undefined && cpu >= cpuBefore && spanMs > 0 ? ((cpu - cpuBefore) * 1e6) / spanMs : undefined;
  return {
    ...uintField('rss_bytes', rss),
    ...uintField('uptime_ms', started !== undefined ? now.at - started * 1000 : undefined),
    ...uintField('cpu_permille', permille),
  };
}

/**
 * Requests handled over the interval: a server's service calls (errors: every outcome but OK), a
 * gateway's HTTP requests (errors: 4xx and 5xx answers).
 */
function callStats(now: Scrape, before: Scrape | undefined): Partial<DashboardNode> {
  if (!now.metrics) return {};
  const previous = before?.metrics ?? now.metrics;
  for (const [name, failed] of [
    ['service_calls_total', (labels: Readonly<Record<string, string>>) => labels['outcome'] !== 'OK'],
    ['gateway_http_requests_total', (labels: Readonly<Record<string, string>>) => Number(labels['status']) >= 400],
  ] as const) {
    const series = now.metrics.series(...prefixed(name));
    if (series.length === 0) continue;
    const earlier = previous.series(...prefixed(name));
    return {
      requests: counterDelta(total(series), total(earlier) ?? 0),
      errors: counterDelta(total(series, failed) ?? 0, total(earlier, failed) ?? 0),
    };
  }
  return {};
}

/** The fields of a /health body that the dashboard shows, each only when it has the schema's type. */
function healthStats(health: Readonly<Record<string, unknown>> | undefined): Partial<DashboardNode> {
  if (!health) return {};
  const { status, version, rank, role, clock_offset_us, lamport, store_ops, store_bytes, replication_lag_ops } = health;
  return {
    ...(typeof status === 'string' ? { status: status.slice(0, 64) } : {}),
    ...(typeof version === 'string' && version.length <= 64 ? { version } : {}),
    ...(typeof rank === 'number' && Number.isSafeInteger(rank) && rank >= 0 ? { rank } : {}),
    ...(typeof role === 'string' && ROLES.has(role) ? { role: role as DashboardNode['role'] } : {}),
    ...(Number.isSafeInteger(clock_offset_us) ? { clock_offset_us: clock_offset_us as number } : {}),
    ...uintField('lamport', lamport),
    ...uintField('store_ops', store_ops),
    ...uintField('store_bytes', store_bytes),
    ...uintField('replication_lag_ops', replication_lag_ops),
    ...listField('high_water_marks', health['high_water_marks'], 1_000, highWaterMark),
    // The generated type spells recent_ops (maxItems 20) as a union of tuples; listField keeps to the bound.
    ...(listField('recent_ops', health['recent_ops'], 20, recentOp) as Pick<DashboardNode, 'recent_ops'>),
  };
}

function uintField<K extends string>(key: K, value: unknown): { [key in K]?: number } {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return {};
  return { [key]: Math.min(MAX_UINT, Math.round(value)) } as { [key in K]?: number };
}

function listField<K extends string, T>(key: K, value: unknown, max: number, item: (value: unknown) => T | undefined): { [key in K]?: T[] } {
  if (!Array.isArray(value)) return {};
  const items = value.slice(0, max).map(item);
  return items.every((entry) => entry !== undefined) ? ({ [key]: items } as { [key in K]?: T[] }) : {};
}

type HighWaterMark = NonNullable<DashboardNode['high_water_marks']>[number];
type RecentOp = NonNullable<DashboardNode['recent_ops']>[number];

function highWaterMark(value: unknown): HighWaterMark | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { origin, seq } = value as Record<string, unknown>;
  return isNodeId(origin) && isUint(seq) ? { origin, seq } : undefined;
}

function recentOp(value: unknown): RecentOp | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { origin, seq, kind, at, summary } = value as Record<string, unknown>;
  if (!isNodeId(origin) || !isUint(seq) || typeof kind !== 'string' || kind.length > 32 || !isUint(at)) return undefined;
  return { origin, seq, kind, at, ...(typeof summary === 'string' ? { summary: summary.slice(0, 200) } : {}) };
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID.test(value);
}

function isUint(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
