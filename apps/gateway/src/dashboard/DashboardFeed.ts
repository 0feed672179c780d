import { ELECTION_TOPIC, MEMBERSHIP_TOPIC, REF_SERVICE } from '@correio/discovery';
import type { ElectionCoordinator, RefMembership, RefServersReply } from '@correio/protocol';
import type { Logger } from 'pino';
import type { TopicHub } from '../stream/TopicHub.js';
import type { Upstream } from '../Upstream.js';
import type { FetchLimits } from './boundedFetch.js';
import type { Monitor } from './monitors.js';
import { offsetsAgainstCoordinator } from './clockOffsets.js';
import { isNodeId, nodeStats, type DashboardNode, type Scrape } from './nodeStats.js';
import { Metrics } from './prometheusText.js';
import { scrapeProcess, type ScrapeResult } from './scrapeProcess.js';
import { serviceStats } from './serviceStats.js';
import { SnapshotFrame } from './SnapshotFrame.js';
import { Timeline } from './Timeline.js';

export interface DashboardFeedOptions {
  /** The gateway's node id. */
  readonly id: string;
  readonly upstream: Upstream;
  readonly hub: TopicHub;
  /** Broker, proxy and reference server, by their monitoring URLs. */
  readonly monitors: readonly Monitor[];
  /** The gateway itself, read in-process: its /health body, its metrics text, its monitoring URL. */
  readonly self: () => Promise<{ readonly health: Readonly<Record<string, unknown>>; readonly metrics: string; readonly http: string }>;
  readonly intervalMs: number;
  /** Each /health, /metrics and ref.servers request: a time-out and a size cap. */
  readonly fetch: FetchLimits;
  readonly logger: Logger;
}

/** Timeline events kept for a dashboard that opens. */
const KEPT_EVENTS = 200;
type Listener = (frame: SnapshotFrame) => void;
type Servers = RefServersReply['servers'];

/**
 * What the gateway knows of the whole system, gathered once per interval while at least one
 * dashboard socket listens: the reference server's list, the /health and /metrics of every process
 * it knows (bounded fetches, all at once), and the membership and election topics for the
 * timeline. One gather at a time: the next starts an interval after the previous one began, or at
 * once if it ran longer.
 */
export class DashboardFeed {
  readonly #options: DashboardFeedOptions;
  readonly #listeners = new Set<Listener>();
  readonly #timeline = new Timeline(KEPT_EVENTS);
  readonly #leaveTopics: (() => void)[];
  /** Each process's previous scrape, for deltas; only those of the latest gather are kept. */
  #scrapes = new Map<string, Scrape>();
  #brokerMetrics: Metrics | undefined;
  #services: ReturnType<typeof serviceStats> = [];
  /** Whether each process answered last time, for the reachability events. */
  readonly #reachable = new Map<string, boolean>();
  #servers: Servers = [];
  #coordinator: string | undefined;
  #lastElection: string | undefined;
  #previousAt: number | undefined;
  #latest: SnapshotFrame | undefined;
  #timer: NodeJS.Timeout | undefined;
  #gathering: Promise<void> | undefined;
  #closed = false;

  constructor(options: DashboardFeedOptions) {
    this.#options = options;
    // Always joined, so a dashboard that opens sees what happened before it did.
    this.#leaveTopics = [
      options.hub.join(MEMBERSHIP_TOPIC, { publication: ({ envelope }) => envelope.type === 'ref.membership' && this.#membership(envelope.body as RefMembership), lost: () => undefined }),
      options.hub.join(ELECTION_TOPIC, { publication: ({ envelope }) => envelope.type === 'election.coordinator' && this.#election(envelope.body as ElectionCoordinator), lost: () => undefined }),
    ];
  }

  /** Sockets listening: the gather runs while there is one. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** The latest snapshot, if one was taken while someone listened. */
  get latest(): SnapshotFrame | undefined {
    return this.#latest;
  }

  /** Calls `listener` with each snapshot from now on; returns the function that stops it. */
  listen(listener: Listener): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1 && !this.#closed) this.#schedule(0);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size > 0) return;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#latest = undefined;
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    clearTimeout(this.#timer);
    for (const leave of this.#leaveTopics) leave();
    await this.#gathering;
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#gathering !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const began = Date.now();
      this.#gathering = this.#gather()
        .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'dashboard: a gather failed'))
        .finally(() => {
          this.#gathering = undefined;
          if (this.#listeners.size > 0 && !this.#closed) this.#schedule(Math.max(0, this.#options.intervalMs - (Date.now() - began)));
        });
    }, delayMs);
  }

  async #gather(): Promise<void> {
    const { monitors, fetch: limits } = this.#options;
    const [servers, self, ...monitored] = await Promise.all([this.#refServers(), this.#self(), ...monitors.map((monitor) => scrapeProcess(monitor.url, limits))]);
    if (servers) {
      this.#servers = servers.servers;
      this.#coordinator = servers.coordinator;
    }
    const serverScrapes = await Promise.all(this.#servers.map((server) => (server.http !== undefined && server.alive ? scrapeProcess(server.http, limits) : undefined)));
    if (this.#closed) return;

    const at = Date.now();
    const scrapes = new Map<string, Scrape>();
    const nodes: DashboardNode[] = [];
    const seen = new Map<string, number>();
    nodes.push(this.#node(this.#options.id, 'gateway', self.http, { ok: true, scrape: self.scrape }, scrapes));
    monitors.forEach((monitor, index) => {
      // A kind named twice (two brokers): broker, broker-2, …
      const count = (seen.get(monitor.kind) ?? 0) + 1;
      seen.set(monitor.kind, count);
      const id = count === 1 ? monitor.kind : `${monitor.kind}-${count}`;
      nodes.push(this.#node(id, monitor.kind, monitor.url, monitored[index]!, scrapes));
      if (monitor.kind === 'broker' && count === 1) {
        const result = monitored[index]!;
        this.#services = result.ok && result.scrape.metrics ? serviceStats(result.scrape.metrics, this.#brokerMetrics) : [];
        this.#brokerMetrics = result.ok ? result.scrape.metrics : undefined;
      }
    });
    this.#servers.forEach((server, index) => {
      const scrape = serverScrapes[index];
      const node = this.#node(server.server, 'server', server.http, scrape ?? { ok: false, error: server.alive ? 'no monitoring URL' : 'not alive' }, scrapes);
      const state: DashboardNode['state'] = !server.alive ? 'down' : server.http === undefined ? 'unknown' : node.state;
      nodes.push({ ...node, state, rank: server.rank, last_heartbeat: server.last_heartbeat, ...(server.http !== undefined ? { http: server.http } : {}) });
    });
    this.#scrapes = scrapes;
    const present = new Set(nodes.map((node) => node.id));
    for (const id of [...this.#reachable.keys()]) if (!present.has(id)) this.#reachable.delete(id);

    const snapshot = {
      at,
      interval_ms: this.#previousAt === undefined ? 0 : Math.max(0, at - this.#previousAt),
      gateway: this.#options.id,
      ...(this.#coordinator !== undefined ? { coordinator: this.#coordinator } : {}),
      nodes: offsetsAgainstCoordinator(nodes.slice(0, 1_000), this.#coordinator),
      services: this.#services,
    };
    this.#previousAt = at;
    const frame = new SnapshotFrame(snapshot, this.#timeline.entries(), this.#timeline.next);
    this.#latest = frame;
    for (const listener of [...this.#listeners]) listener(frame);
  }

  /** One process as a dashboard node, from what its scrape gave; notes (un)reachability on the timeline. */
  #node(id: string, kind: DashboardNode['kind'], http: string | undefined, result: ScrapeResult, scrapes: Map<string, Scrape>): DashboardNode {
    const base = { id, kind, ...(http !== undefined ? { http } : {}) };
    if (!result.ok) {
      if (http !== undefined) this.#noteReachable(id, false, result.error);
      return { ...base, state: 'down' };
    }
    this.#noteReachable(id, true);
    const { scrape } = result;
    scrapes.set(id, scrape);
    const state = scrape.healthStatus === 200 ? 'up' : scrape.healthStatus === 503 ? 'starting' : 'unknown';
    return { ...base, state, ...nodeStats(scrape, this.#scrapes.get(id)) };
  }

  #noteReachable(id: string, reachable: boolean, why?: string): void {
    const before = this.#reachable.get(id);
    this.#reachable.set(id, reachable);
    if (before === undefined || before === reachable) return;
    this.#timeline.add({
      at: Date.now(),
      kind: 'node',
      node: id,
      state: reachable ? 'reachable' : 'unreachable',
      text: reachable ? `${id} answers again` : `${id} does not answer: ${why ?? 'no reply'}`,
    });
    this.#options.logger.info({ node: id, reachable, why }, 'dashboard: reachability changed');
  }

  async #refServers(): Promise<RefServersReply | undefined> {
    try {
      return (await this.#options.upstream.call(REF_SERVICE, 'ref.servers.request', {}, { signal: AbortSignal.timeout(this.#options.fetch.timeoutMs) })) as RefServersReply;
    } catch (error) {
      this.#options.logger.debug({ err: error }, 'dashboard: ref.servers failed; showing the last list');
      return undefined;
    }
  }

  async #self(): Promise<{ scrape: Scrape; http: string }> {
    const { health, metrics, http } = await this.#options.self();
    return { http, scrape: { at: Date.now(), healthStatus: health['ready'] === true ? 200 : 503, health, metrics: Metrics.parse(metrics) } };
  }

  #membership(event: RefMembership): void {
    this.#timeline.add({ at: event.at, kind: 'membership', node: event.server, state: event.state, text: `${event.server} (rank ${event.rank}) is ${event.state}` });
  }

  /** Coordinators announce themselves again and again: only a new coordinator or term is an event. */
  #election(announcement: ElectionCoordinator): void {
    if (!isNodeId(announcement.server)) return;
    const key = `${announcement.server}/${announcement.term}`;
    if (key === this.#lastElection) return;
    this.#lastElection = key;
    this.#timeline.add({ at: Date.now(), kind: 'election', node: announcement.server, term: announcement.term, text: `${announcement.server} (rank ${announcement.rank}) is the coordinator, term ${announcement.term}` });
  }
}
