import { BadRequestError } from '@correio/codec';
import type { LamportClock, SynchronizedTime } from '@correio/clocks';
import { ServerNode, type CoordinatorInfo } from '@correio/discovery';
import type { Logger, MetricsRegistry } from '@correio/observability';
import type { CurveOptions } from '@correio/transport';
import type { AnyEnvelope, BodyOf, MessageType } from '@correio/protocol';
import { ClockStamp, defineService, type ActionContext, type DefinedService, type MessageContext, type MessageHandlers, type Middleware } from '@correio/service';
import { ClockSync, type ClockSyncOptions, type ClockSyncStatus, type SyncMembership } from './ClockSync.js';
import { clusterMetrics } from './clusterMetrics.js';
import type { InjectedClockError } from './clusterTime.js';

/** Membership in a cluster of servers through a reference server (apps/ref). */
export interface ClusterOptions {
  /** The reference server's broker service. Default `ref`. */
  readonly refService?: string;
  /** Heartbeat period to the reference server; not above its `--heartbeat`. Default 1000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** The reference server's `--misses`; with the heartbeat it bounds the coordinator's lease. Default 3. */
  readonly refMisses?: number;
  /** How long an election candidate waits for higher-ranked servers. Default 1000 ms. */
  readonly electionTimeoutMs?: number;
}

export interface ClusterHealth {
  readonly cluster: {
    /** The reference server's broker service; null for a standalone server. */
    readonly ref: string | null;
    readonly refAvailable: boolean | null;
    readonly rank: number | null;
    readonly role: string;
    readonly isCoordinator: boolean;
    readonly coordinator: CoordinatorInfo | null;
    readonly term: number;
    /** The cached server list (kept while the reference server is down). */
    readonly servers: readonly { readonly server: string; readonly rank: number; readonly alive: boolean; readonly peer?: string }[];
    /** The live servers other than this one: what replication takes as its peers. */
    readonly peers: readonly string[];
  };
  readonly clock: ClockSyncStatus & { readonly injected: Required<InjectedClockError> };
}

const COORDINATION_TYPES = new Set<string>(['election.election.request', 'clock.poll.request', 'clock.adjust.request']);

/**
 * The server's part in the cluster: registration with the reference server, heartbeats, the cached
 * server list, the bully election (through @correio/discovery's ServerNode) and Berkeley clock
 * synchronisation under the elected coordinator.
 *
 * `srv.<id>` is served by the server's service framework alone — one set of worker connections per
 * broker service in the process — so the ServerNode runs without a worker of its own
 * (`worker: false`) and `messages` routes `election.election.request`, `clock.poll.request` and
 * `clock.adjust.request` to it, with the framework's middleware, metrics and graceful stop. Without
 * a reference server (standalone) the clock is still served (polls and adjustments from anyone), but
 * the server takes part in no election and never coordinates.
 */
export class Cluster {
  readonly id: string;
  readonly sync: ClockSync;
  readonly #node: ServerNode | undefined;
  readonly #refService: string | undefined;
  readonly #time: SynchronizedTime;
  readonly #injected: Required<InjectedClockError>;
  readonly #log: Logger;
  #joining: Promise<void> | undefined;
  #stopped = false;

  constructor(options: {
    readonly id: string;
    readonly broker: string;
    readonly proxy: { readonly pub: string; readonly sub: string };
    /** Undefined: standalone, no reference server. */
    readonly ref: ClusterOptions | undefined;
    readonly clockSync?: ClockSyncOptions;
    readonly lamport: LamportClock;
    readonly time: SynchronizedTime;
    readonly injected?: InjectedClockError;
    /** CURVE keys for the node's broker and proxy sockets. */
    readonly curve?: CurveOptions;
    /** This server's /health and /metrics base URL, sent with its registration. */
    readonly http?: string;
    /** This server's direct endpoint for its peers (revision 1.8), sent with its registration. */
    readonly peer?: string;
    readonly logger: Logger;
    readonly metrics: MetricsRegistry;
  }) {
    this.id = options.id;
    this.#time = options.time;
    this.#injected = { skewMs: options.injected?.skewMs ?? 0, driftPpm: options.injected?.driftPpm ?? 0 };
    this.#log = options.logger;
    const ref = options.ref;
    this.#refService = ref === undefined ? undefined : (ref.refService ?? 'ref');
    this.#node =
      ref === undefined
        ? undefined
        : new ServerNode({
            server: options.id,
            worker: false,
            broker: options.broker,
            publishEndpoint: options.proxy.pub,
            subscribeEndpoint: options.proxy.sub,
            refService: this.#refService!,
            ...(ref.heartbeatIntervalMs !== undefined ? { heartbeatIntervalMs: ref.heartbeatIntervalMs } : {}),
            ...(ref.refMisses !== undefined ? { refMisses: ref.refMisses } : {}),
            ...(ref.electionTimeoutMs !== undefined ? { electionTimeoutMs: ref.electionTimeoutMs } : {}),
            // The server's one Lamport clock and synchronised time stamp the node's messages too.
            stamp: new ClockStamp(options.id, { clock: options.lamport, time: options.time }),
            ...(options.curve ? { curve: options.curve } : {}),
            ...(options.http !== undefined ? { http: options.http } : {}),
            ...(options.peer !== undefined ? { peer: options.peer } : {}),
            logger: options.logger,
          });
    const counters = clusterMetrics(options.metrics, this);
    this.sync = new ClockSync({
      ...options.clockSync,
      self: options.id,
      time: options.time,
      membership: this.#node ?? STANDALONE,
      logger: options.logger,
      hooks: { onRound: (outcome) => counters.rounds.inc({ outcome }), onAdjustment: (applied) => counters.adjustments.inc({ applied: String(applied) }) },
    });
    this.#node?.events.on('role', ({ state, previous }) => {
      if (state.acting !== previous.acting) {
        this.#log.info({ acting: state.acting, term: state.term, coordinator: state.coordinator?.server }, state.acting ? 'coordinating' : 'no longer coordinating');
        this.sync.onActing(state.acting);
      }
    });
  }

  /** True while this server is the elected coordinator (its lease holds). */
  get isCoordinator(): boolean {
    return this.#node?.isCoordinator ?? false;
  }

  /** The elected coordinator's id while one is known; 'self' for a server without a reference server (it coordinates alone). */
  coordinatorId(): 'self' | string | undefined {
    if (this.#node === undefined) return 'self';
    if (this.isCoordinator) return 'self';
    return this.#node.coordinator?.server;
  }

  get rank(): number | undefined {
    return this.#node?.rank;
  }

  /** The synchronised clock's applied offset, ms. */
  get clockOffsetMs(): number {
    return this.#time.offset;
  }

  get liveServerCount(): number {
    return this.#node?.liveServers.length ?? 0;
  }

  /** The live servers other than this one, by rank: the cached list while the reference server is down. */
  peers(): string[] {
    return (this.#node?.liveServers ?? []).map(({ server }) => server).filter((server) => server !== this.id);
  }

  /**
   * Every server the reference server's latest list named, alive or not, this one included: the
   * origins whose replicated operations this server accepts. A server that is briefly down stays
   * listed (until the reference server drops it), so its operations still in flight are not
   * refused. Servers known only from membership events do not count: anyone can publish those, and
   * each forged one would otherwise admit a made-up origin into the store for good.
   */
  listed(): string[] {
    return [...(this.#node?.listedByRef ?? [])];
  }

  /** Where `peer` takes requests directly, as the reference server lists it (revision 1.8). */
  peerEndpoint(peer: string): string | undefined {
    return this.#node?.serverInfo(peer)?.peer;
  }

  /** Reads the reference server's list again soon: a server that just joined is listed at once rather than at the next refresh. */
  refreshListed(): void {
    this.#node?.refreshSoon();
  }

  /** Typed handlers for the server's `srv.<id>`: the election and the clock. */
  get messages(): MessageHandlers {
    return {
      'election.election.request': async (ctx, body) => {
        this.#requireOwnService(ctx);
        if (this.#node === undefined) {
          throw new BadRequestError(`server ${this.id} runs without a reference server and takes no part in elections`, { data: { type: ctx.type, reason: 'standalone' } });
        }
        return this.#node.answerElection(body, ctx.signal);
      },
      'clock.poll.request': (ctx, body) => {
        this.#requireOwnService(ctx);
        return this.sync.onPoll(body);
      },
      'clock.adjust.request': (ctx, body) => {
        this.#requireOwnService(ctx);
        return this.sync.onAdjust(body, ctx.caller);
      },
    };
  }

  /** The same handlers as a handler source for the service (combine it with the chat handlers). */
  get handlers(): DefinedService {
    return defineService({ messages: this.messages });
  }

  /** Counts the requests served (chat, replication), for the every-N-messages synchronisation rounds. */
  get middleware(): Middleware<ActionContext> {
    return (next) => async (ctx, params) => {
      // Log shipping is not a message between processes the clocks must agree on: it would only hurry the rounds.
      if (!COORDINATION_TYPES.has(ctx.action) && !ctx.action.startsWith('logs.') && !ctx.action.startsWith('tasks.')) this.sync.noteMessage();
      return next(ctx, params);
    };
  }

  /**
   * Joins the cluster and starts the rounds. Call once `srv.<id>` is served, so that election
   * requests find this server. Resolves once registered with a fresh server list (so the peers are
   * known, for replication's catch-up), as soon as the reference server proves unreachable, or after
   * `waitMs`; registration goes on in the background until it succeeds.
   */
  async start(waitMs = 5_000): Promise<void> {
    const node = this.#node;
    this.sync.start();
    if (node === undefined || this.#joining !== undefined) return;
    let unreachable: () => void = () => undefined;
    const refDown = new Promise<void>((resolve) => (unreachable = resolve));
    const off = node.events.on('ref', ({ available }) => {
      if (!available) unreachable();
    });
    const joined = node.start().then(
      (rank) => this.#log.info({ rank, ref: this.#refService }, 'registered with the reference server'),
      (error: unknown) => {
        if (!this.#stopped) this.#log.error({ err: error }, 'could not join the cluster');
      },
    );
    this.#joining = joined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)));
    try {
      await Promise.race([joined, refDown, timeout]);
    } finally {
      off();
      clearTimeout(timer);
    }
    if (node.rank === undefined) this.#log.warn({ ref: this.#refService }, 'the reference server did not answer: serving standalone until it does');
  }

  /** Stops coordinating at once, stops heartbeating (the reference server marks this server down) and closes the node's sockets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.sync.stop();
    await this.#node?.stop();
    await this.#joining;
  }

  health(): ClusterHealth {
    const node = this.#node;
    return {
      cluster: {
        ref: this.#refService ?? null,
        refAvailable: node?.refAvailable ?? null,
        rank: node?.rank ?? null,
        role: node === undefined ? 'standalone' : node.role,
        isCoordinator: this.isCoordinator,
        coordinator: node?.coordinator ?? null,
        term: node?.term ?? 0,
        servers: (node?.servers ?? []).map(({ server, rank, alive, peer }) => ({ server, rank, alive, ...(peer === undefined ? {} : { peer }) })),
        peers: this.peers(),
      },
      clock: { ...this.sync.status(), injected: this.#injected },
    };
  }

  /** Sends a request to another server's `srv.<id>` (through the node's client). */
  request<T extends MessageType>(server: string, type: T, body: BodyOf<T>, options?: { timeout?: number; retries?: number; signal?: AbortSignal }): Promise<AnyEnvelope> {
    if (this.#node === undefined) throw new BadRequestError(`server ${this.id} runs without a reference server`);
    return this.#node.request(server, type, body, options);
  }

  #requireOwnService(ctx: MessageContext): void {
    // `chat` is load-balanced: a clock or election request through it would reach a random server.
    if (ctx.via !== `srv.${this.id}`) {
      throw new BadRequestError(`${ctx.type} is addressed to one server: send it to srv.<server-id>, not ${ctx.via}`, { data: { type: ctx.type, via: ctx.via } });
    }
  }
}

/** A standalone server's view of the cluster: alone, never coordinating. */
const STANDALONE: SyncMembership = {
  isCoordinator: false,
  liveServers: [],
  request: () => Promise.reject(new BadRequestError('a standalone server has no peers')),
};
