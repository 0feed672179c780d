import type { ChildState } from './SupervisedChild.js';

/** What one component looked like at one poll. */
export interface ComponentSample {
  readonly name: string;
  readonly program: string;
  readonly state: ChildState;
  readonly restarts: number;
  /** Its `/health` JSON, when it has an HTTP side port and answered. */
  readonly health?: Readonly<Record<string, unknown>>;
  /** Wall-clock ms (this machine) when the health request was sent and its answer read. */
  readonly polled?: { readonly sent: number; readonly received: number };
}

export interface Sample {
  /** Monotonic ms. */
  readonly at: number;
  readonly components: readonly ComponentSample[];
}

/** The figures of the live summary line; `undefined` is shown as `n/a` (not reported by any component). */
export interface Figures {
  readonly ready: number;
  readonly total: number;
  /** Components not ready, with their state: `srv-2 backoff`. */
  readonly notReady: readonly string[];
  /** Chat messages (publications and direct messages) committed per second, all servers together. */
  readonly messagesPerSecond?: number;
  /** The coordinator the reference server last saw announced; null when none is yet. */
  readonly coordinator?: string | null;
  /** Operations some server holds that another does not yet: the largest gap between two replicas. */
  readonly replicationLag?: number;
  /** Largest difference between two servers' synchronised clocks, ms. */
  readonly clockSpreadMs?: number;
  readonly restarts: number;
}

const MESSAGE_KINDS = ['publish', 'direct'];

/** The figures from two consecutive samples (rates need both). */
export function figures(previous: Sample | undefined, current: Sample): Figures {
  const services = current.components;
  const notReady = services.filter((c) => c.state !== 'ready' && c.state !== 'finished').map((c) => `${c.name} ${c.state}`);
  const servers = services.filter((c) => c.program === 'server' && c.health);
  const ref = services.find((c) => c.program === 'ref' && c.health);
  const messagesPerSecond = previous ? messageRate(previous, current) : undefined;
  const coordinator = coordinatorOf(ref?.health, servers.map((s) => s.health!));
  const replicationLag = replicationLagOf(servers.map((s) => ({ id: s.name, health: s.health! })));
  const clockSpreadMs = clockSpreadOf(servers.map((s) => ({ health: s.health!, ...(s.polled ? { polled: s.polled } : {}) })));
  return {
    ready: services.filter((c) => c.state === 'ready').length,
    total: services.filter((c) => c.state !== 'finished').length,
    notReady,
    ...(messagesPerSecond !== undefined ? { messagesPerSecond } : {}),
    ...(coordinator !== undefined ? { coordinator } : {}),
    ...(replicationLag !== undefined ? { replicationLag } : {}),
    ...(clockSpreadMs !== undefined ? { clockSpreadMs } : {}),
    restarts: services.reduce((sum, c) => sum + c.restarts, 0),
  };
}

/** One line: `8/8 ready | 39.5 msg/s | coordinator srv-3 | replication lag 0 ops | clock spread 1 ms`. */
export function renderFigures(f: Figures, elapsedMs: number): string {
  const parts = [
    clock(elapsedMs),
    `${f.ready}/${f.total} ready${f.notReady.length > 0 ? ` (${f.notReady.join(', ')})` : ''}`,
    `${f.messagesPerSecond !== undefined ? f.messagesPerSecond.toFixed(1) : 'n/a'} msg/s`,
    `coordinator ${f.coordinator === undefined ? 'n/a' : (f.coordinator ?? 'none yet')}`,
    `replication lag ${f.replicationLag !== undefined ? `${f.replicationLag} ops` : 'n/a'}`,
    `clock spread ${f.clockSpreadMs !== undefined ? `${Math.round(f.clockSpreadMs)} ms` : 'n/a'}`,
  ];
  if (f.restarts > 0) parts.push(`${f.restarts} restart${f.restarts === 1 ? '' : 's'}`);
  return parts.join(' | ');
}

function clock(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const m = Math.floor(seconds / 60);
  return `${m}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * Messages committed per second: the servers' `committed` counters (publish + direct), summed.
 * A counter that went down belongs to a restarted server; its new value is all that is new.
 */
function messageRate(previous: Sample, current: Sample): number | undefined {
  const seconds = (current.at - previous.at) / 1000;
  if (seconds <= 0) return undefined;
  let total = 0;
  let reported = false;
  for (const now of current.components) {
    const count = committedMessages(now.health);
    if (count === undefined) continue;
    reported = true;
    const before = committedMessages(previous.components.find((c) => c.name === now.name)?.health);
    total += before === undefined ? 0 : count >= before ? count - before : count;
  }
  return reported ? total / seconds : undefined;
}

function committedMessages(health: Readonly<Record<string, unknown>> | undefined): number | undefined {
  const committed = record(health?.['committed']);
  if (!committed) return undefined;
  return MESSAGE_KINDS.reduce((sum, kind) => sum + (typeof committed[kind] === 'number' ? committed[kind] : 0), 0);
}

function coordinatorOf(ref: Readonly<Record<string, unknown>> | undefined, servers: readonly Readonly<Record<string, unknown>>[]): string | null | undefined {
  if (ref && 'coordinator' in ref) return typeof ref['coordinator'] === 'string' ? ref['coordinator'] : null;
  // Without a reference server's view, the servers' own (`cluster.coordinator: {server, rank, term}`).
  let seen: null | undefined;
  for (const health of servers) {
    const coordinator = record(health['cluster'])?.['coordinator'] ?? health['coordinator'];
    if (typeof coordinator === 'string') return coordinator;
    const server = record(coordinator)?.['server'];
    if (typeof server === 'string') return server;
    if (coordinator === null) seen = null;
  }
  return seen;
}

/**
 * The replication lag, in operations. Preferably as the servers report it (`replication.peers[].ahead`:
 * what a peer lacked at the last sync); otherwise from their digests (`store.hwm`, the highest
 * sequence number held per origin): for each origin, the highest minus the lowest among the
 * servers. Not reported (n/a) while no server holds any other server's operations.
 */
export function replicationLagOf(servers: readonly { id: string; health: Readonly<Record<string, unknown>> }[]): number | undefined {
  let reported: number | undefined;
  for (const { health } of servers) {
    const peers = record(health['replication'])?.['peers'];
    if (!Array.isArray(peers)) continue;
    for (const peer of peers) {
      const ahead = record(peer)?.['ahead'];
      if (typeof ahead === 'number') reported = Math.max(reported ?? 0, ahead);
    }
  }
  if (reported !== undefined) return reported;
  const marks = servers.map(({ id, health }) => ({ id, hwm: record(record(health['store'])?.['hwm']) ?? {} }));
  const replicating = marks.some(({ id, hwm }) => Object.keys(hwm).some((origin) => origin !== id));
  if (!replicating || marks.length < 2) return undefined;
  const origins = new Set(marks.flatMap(({ hwm }) => Object.keys(hwm)));
  let lag = 0;
  for (const origin of origins) {
    const seqs = marks.map(({ hwm }) => (typeof hwm[origin] === 'number' ? hwm[origin] : 0));
    lag = Math.max(lag, Math.max(...seqs) - Math.min(...seqs));
  }
  return lag;
}

/**
 * The spread of the servers' synchronised clocks. A server that reports its clock (`clock.now`,
 * the time it stamps messages with) is compared with this machine's clock at the middle of the
 * health request's round trip — exact to within half the round trip, well under a millisecond on
 * one machine — so the figure includes whatever error its clock has, injected skew and drift too.
 * A server reporting only the adjustment it applied (`clock.offsetMs`) is taken at that. Not
 * reported (n/a) unless two servers say something about their clocks.
 */
export function clockSpreadOf(servers: readonly { health: Readonly<Record<string, unknown>>; polled?: { sent: number; received: number } }[]): number | undefined {
  const offsets: number[] = [];
  const adjustments: number[] = [];
  for (const { health, polled } of servers) {
    const clockInfo = record(health['clock']);
    if (!clockInfo) continue;
    const now = clockInfo['now'];
    const offset = clockInfo['offsetMs'] ?? clockInfo['offset'];
    if (typeof now === 'number' && polled) offsets.push(now - (polled.sent + polled.received) / 2);
    else if (typeof offset === 'number') adjustments.push(offset);
  }
  const spread = (values: number[]) => (values.length < 2 ? undefined : Math.max(...values) - Math.min(...values));
  return spread(offsets) ?? spread(adjustments);
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
