import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { registerLiveSetting } from '@correio/config';
import { KeyRing, TokenAuthority } from '@correio/identity';
import { systemTime, type TimeSource } from '@correio/clocks';
import { DataDirLock, createLogger, createMetrics, startHttpSidecar, type CurveClientKeySet, type HealthStatus, type HttpSidecar, type Logger, type MetricsRegistry } from '@correio/observability';
import { CorreioError, UnavailableError } from '@correio/codec';
import type { RequestHandler } from '@correio/transport';
import type { BodyOf } from '@correio/protocol';
import { ClockStamp, createService, PromMetrics, type Service } from '@correio/service';
import { PeerLinks, type PeerLinksStats } from '@correio/replication';
import { ChatServer } from './ChatServer.js';
import { ConfigHandlers } from './config/ConfigHandlers.js';
import { LogHandlers, LOGS_SERVICE } from './logs/LogHandlers.js';
import { LogStore } from './logs/LogStore.js';
import { LogSync } from './logs/LogSync.js';
import { logMetrics } from './logs/logMetrics.js';
import { TaskCoordination } from './tasks/TaskCoordination.js';
import { TaskHandlers, TASKS_SERVICE } from './tasks/TaskHandlers.js';
import { taskEvent } from './tasks/taskEvent.js';
import { taskMetrics } from './tasks/taskMetrics.js';
import { TaskQueue } from './tasks/TaskQueue.js';
import { TaskReplicator } from './tasks/TaskReplicator.js';
import { TaskStore } from './tasks/TaskStore.js';
import { cachedFor, dashboardHealth, type DashboardHealth } from './dashboardHealth.js';
import { RecentOperations } from './RecentOperations.js';
import { Authenticator, type AuthMode } from './auth/Authenticator.js';
import { DEFAULT_CONCURRENCY, DEFAULT_DIRECT_CONCURRENCY } from './concurrency.js';
import type { Rate } from '@correio/tasks';
import { OperationClock } from './OperationClock.js';
import { OperationFanout } from './OperationFanout.js';
import type { ClockSyncOptions } from './cluster/ClockSync.js';
import { Cluster, type ClusterHealth, type ClusterOptions } from './cluster/Cluster.js';
import { clusterTime, type InjectedClockError } from './cluster/clusterTime.js';
import { openLamportClock } from './cluster/lamportMark.js';
import { defaultPeerLink, openPeerEndpoint, type PeerEndpoint, type PeerLinkOptions } from './cluster/peerLink.js';
import { combineHandlers } from './replication/combineHandlers.js';
import { replicationMetrics } from './replication/replicationMetrics.js';
import { ServerReplication, type CatchUpReport, type ReplicationHealth } from './replication/ServerReplication.js';
import { serverMetrics } from './serverMetrics.js';
import { noticeWhileStarting } from './startupNotice.js';
import { ChatStore, type StoreDigest } from './store/ChatStore.js';
import { StoreDamagedError } from './store/StoreErrors.js';

/** `full`: re-read and check every operation and index at start (StoreDamagedError on any mismatch). `off`: trust the store. */
export type VerifyMode = 'full' | 'off';

/** Who may act as whom (protocol revision 1.1). */
export interface ServerAuthOptions {
  /** `password`: user-acting requests need a token from a password login. `open`: the body user is believed (demos; logged loudly). Default `open` for now. */
  readonly mode?: AuthMode;
  /** The key-set file the cluster's servers share. Default `<dataDir>/auth-keys.json`, created on first start. */
  readonly keysFile?: string;
  /** iss of issued tokens and the only one accepted. Default `correio`. */
  readonly issuer?: string;
  /** aud of issued tokens and the only one accepted. Default `correio`. */
  readonly audience?: string;
  /** Access-token lifetime. Default 15 min. */
  readonly accessTtlMs?: number;
  /** Refresh-token lifetime. Default 7 days. */
  readonly refreshTtlMs?: number;
  /** How often to check the key file for changes. Default 5 s. */
  readonly keysCheckIntervalMs?: number;
  /** Users whose access tokens (login, refresh) carry the operator role (revision 1.3). Default none. */
  readonly operators?: readonly string[];
}

export interface StartServerOptions {
  /** This server's id: its broker service is `srv.<id>` and it is the origin of every operation it commits. 1–128 printable ASCII. */
  readonly id: string;
  /** The broker's MDP endpoint. */
  readonly broker: string;
  /** The proxy: `pub` is its XSUB side (publishers connect), `sub` its XPUB side. */
  readonly proxy: { readonly pub: string; readonly sub: string };
  /**
   * CURVE client keys for the broker and proxy sockets (their public keys and this server's pair);
   * plaintext when absent. Broker and proxy must share one key: the service applies one set of
   * socket options to all its sockets.
   */
  readonly curve?: CurveClientKeySet;
  /** The store's directory (created when missing); one server id per directory. */
  readonly dataDir: string;
  /** Requests served at once per broker service (`chat` and `srv.<id>`): MDP worker connections each. Default DEFAULT_CONCURRENCY (64). */
  readonly concurrency?: number;
  /** Requests in flight per service on the direct endpoint. Default DEFAULT_DIRECT_CONCURRENCY (1,024). */
  readonly directConcurrency?: number;
  /** Store verification at start. Default `full`. */
  readonly verify?: VerifyMode;
  /** Page size of users, channels, history and conversations when a request gives no limit. Default 50. */
  readonly pageSize?: number;
  /** Refuse to start when the store's newest operation is stamped further ahead of this machine's clock. Default 60 s. */
  readonly maxClockOffsetMs?: number;
  /** MDP heartbeating; must match the broker's. Defaults 2500 ms × 3. */
  readonly heartbeat?: { readonly intervalMs?: number; readonly liveness?: number };
  /** How long stop lets in-flight requests finish. Default 5 s. */
  readonly drainTimeoutMs?: number;
  /** How long start waits for the broker and the proxy. Default 30 s. */
  readonly startTimeoutMs?: number;
  /**
   * The HTTP side port for /health and /metrics; none when absent. `url`: where others reach it,
   * registered with the reference server (default: the side port's own URL, with this machine's
   * host name when it binds every interface).
   */
  readonly http?: { readonly port: number; readonly host?: string; readonly url?: string };
  /** Defaults to a quiet `server` logger (CORREIO_LOG_LEVEL or warn). */
  readonly logger?: Logger;
  /** Defaults to a fresh registry with process metrics. */
  readonly metrics?: MetricsRegistry;
  /** The physical clock behind the HLC and envelope times. Defaults to the system clock. */
  readonly time?: TimeSource;
  /**
   * The live peers (server ids; this one is ignored if listed): whom replication catches up and
   * syncs with, and whom `ackPeers` waits for. Read at every use, so a live list (discovery) can
   * stand behind it. Default: the live servers of the reference server's list when `ref` is on,
   * else none (the static `--peers` list on the command line replaces it).
   */
  readonly peers?: () => readonly string[];
  /** Replication tuning: ms between anti-entropy rounds, ms a peer request may take. Defaults 2000, 2000. */
  readonly replication?: { readonly antiEntropyIntervalMs?: number; readonly requestTimeoutMs?: number };
  /** Reply to a write only once this many peers applied it durably. Default 0: once it is durable here. */
  readonly ackPeers?: number;
  /** The central logs (`logs` service): retention and the anti-entropy interval. */
  readonly logs?: { readonly maxAgeMs?: number; readonly maxChars?: number; readonly syncIntervalMs?: number; readonly pruneIntervalMs?: number };
  /** The task queue (`tasks` service, run by the coordinator): servers that hold a job change before it is acknowledged (this one included, default 2), and worker connections for its long polls (default 128). */
  readonly tasks?: { readonly replicas?: number; readonly concurrency?: number; readonly rateLimits?: ReadonlyMap<string, Rate> };
  /** How long a write waits for its `ackPeers` confirmations before failing with a retryable error. Default 2 s. */
  readonly ackTimeoutMs?: number;
  /**
   * With `ackPeers`, send a write to the peers while it commits here (default true): a server that
   * crashed then writes again only once every listed server answered (SendAheadFence).
   */
  readonly sendAhead?: boolean;
  /**
   * Cluster membership through the reference server (apps/ref): registration and rank, heartbeats,
   * the cached server list, the bully election and Berkeley clock synchronisation under the
   * coordinator. Default on, reference server on broker service `ref`; `false`: standalone.
   */
  readonly ref?: ClusterOptions | false;
  /** Berkeley rounds: period, every-N-messages, outlier and round-trip bounds. */
  readonly clockSync?: ClockSyncOptions;
  /** TESTING AID: a skew and drift injected into this server's clock (`--clock-skew-ms`, `--clock-drift-ppm`). */
  readonly clockError?: InjectedClockError;
  /** Authentication: mode, key file, issuer, audience, token lifetimes. */
  readonly auth?: ServerAuthOptions;
  /**
   * The direct endpoint other servers send `srv.<id>` requests to, skipping the broker (revision
   * 1.8: replication batches, task copies, log copies). Default defaultPeerLink: a free loopback
   * port when the broker is on this machine, without CURVE, with the reference server; `false`: none.
   */
  readonly peerLink?: PeerLinkOptions | false;
}

/** The server's /health: the dashboard's flat fields (DashboardHealth), and the details below. */
export interface ServerHealth extends DashboardHealth {
  readonly ready: boolean;
  readonly status: string;
  readonly id: string;
  readonly store: StoreDigest & { readonly path: string };
  readonly inFlight: number;
  readonly lc: number;
  readonly serving: readonly string[];
  readonly committed: Readonly<Record<string, number>>;
  readonly deduplicated: number;
  readonly publicationsDropped: number;
  /** Catch-up, per-peer lag and counters of the replication. */
  readonly replication: ReplicationHealth;
  /** Rank, role, coordinator, the cached server list and the peers. */
  readonly cluster: ClusterHealth['cluster'];
  /** The task queue: whether this server coordinates it (serves `tasks`), and the jobs its store holds. */
  readonly tasks: { readonly coordinating: boolean; readonly jobs: number };
  /** The synchronised clock: now, corrected, offset applied, the last adjustment and round. */
  readonly clock: ClusterHealth['clock'];
  /**
   * Direct requests between servers (revision 1.8): this server's endpoint and the requests it
   * served there; requests it sent to peers directly, through the broker, and its open links.
   */
  readonly peerLink: PeerLinksStats & { readonly endpoint?: string; readonly served: number };
  readonly [detail: string]: unknown;
}

export interface RunningServer {
  readonly id: string;
  readonly service: Service;
  readonly store: ChatStore;
  readonly sidecar: HttpSidecar | undefined;
  readonly metrics: MetricsRegistry;
  readonly replication: ServerReplication;
  /** Membership, election and clock synchronisation. */
  readonly cluster: Cluster;
  /** The signing keys: `keys.reload()` on SIGHUP. */
  readonly keys: KeyRing;
  /** What the catch-up with the peers did before the server reported ready. */
  readonly catchUp: CatchUpReport;
  /** The single line a supervisor waits for: `server ready <id> broker=<endpoint> data=<dir> ops=<n> [fetched=<n>] [http=<url>]` (`fetched` when it has peers). */
  readonly readyLine: string;
  health(): ServerHealth;
  /** Stops accepting, lets in-flight requests finish (drainTimeoutMs), then closes the store. Idempotent. */
  close(): Promise<void>;
}

const NODE_ID = /^[\x21-\x7e]{1,128}$/;
/** Worker connections on the `config` broker service. */
const CONFIG_CONCURRENCY = 4;
/** Ms a peer may take over a log copy, digest or fetch. */
const LOG_PEER_TIMEOUT_MS = 2_000;
/** Worker connections serving `logs`. */
const LOGS_CONCURRENCY = 2;

/** Ms a peer may take over a task copy or a page of its jobs. */
const TASK_PEER_TIMEOUT_MS = 5_000;
/** Worker connections serving `tasks` on the coordinator: workers' long polls hold one each. */
const TASKS_CONCURRENCY = 128;

/** Ms a configuration change forwarded to the coordinator may take (it waits for every live server). */
const CONFIG_FORWARD_TIMEOUT_MS = 8_000;

/**
 * Starts a chat server in this process: locks the data directory, opens and verifies the store
 * (refusing a damaged one with StoreDamagedError), resumes the clocks past the store's newest
 * operation, and serves the chat protocol on the broker services `chat` and `srv.<id>`.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  if (!NODE_ID.test(options.id)) throw new RangeError(`the server id must be 1–128 printable ASCII characters, got ${JSON.stringify(options.id)}`);
  const logger = (options.logger ?? createLogger('server')).child({ server: options.id });
  const metrics = options.metrics ?? createMetrics();
  // Every clock reading of the server (envelope ts, HLC, Berkeley) comes from this synchronised clock.
  const time = clusterTime(options.time ?? systemTime, options.clockError);
  if (options.curve && options.curve.proxy.serverKey !== options.curve.broker.serverKey) {
    throw new RangeError('the server needs the broker and the proxy to share one CURVE server key (its service opens every socket with the same options)');
  }
  const lock = DataDirLock.acquire(ensureDir(options.dataDir), 'server.lock');
  let store: ChatStore | undefined;
  let logStore: LogStore | undefined;
  let taskStore: TaskStore | undefined;
  let service: Service | undefined;
  let stopReplication: (() => Promise<void>) | undefined;
  let cluster: Cluster | undefined;
  let keys: KeyRing | undefined;
  let sidecar: HttpSidecar | undefined;
  let peerEndpoint: PeerEndpoint | undefined;
  /** The service's handler per service name the direct endpoint serves, made once (a per-request path). */
  const directHandlers = new Map<string, RequestHandler>();
  const directHandler = (name: string): RequestHandler | undefined => {
    if (service === undefined) return undefined;
    let handler = directHandlers.get(name);
    if (handler === undefined) directHandlers.set(name, (handler = service.handlerFor(name)));
    return handler;
  };
  /** While the direct endpoint serves `tasks` (and tasks.route names it): this server coordinates the task queue. */
  let coordinatingTasks: () => boolean = () => false;
  let peerLinks: PeerLinks | undefined;
  // Until the server is assembled, /health answers 503 "starting" (a long store verification shows as such).
  let currentHealth: () => HealthStatus = () => ({ ready: false, status: 'starting', id: options.id });
  try {
    // Up first, so that its URL goes into the registration with the reference server.
    if (options.http) {
      sidecar = await startHttpSidecar({ port: options.http.port, ...(options.http.host ? { host: options.http.host } : {}), registry: metrics, health: () => currentHealth(), logger });
    }
    // Every operation new to the store, own or replicated, once durable: what /health shows as recent_ops.
    const recent = new RecentOperations();
    store = ChatStore.open({
      path: options.dataDir,
      onApplied: (op) => {
        recent.add(op);
        // A request's path across servers, by its id (central logs: correio logs --request <id>).
        if (op.rid !== undefined && logger.isLevelEnabled('debug')) {
          logger.debug({ rid: op.rid, kind: op.kind, origin: op.op.origin, seq: op.op.seq }, op.op.origin === options.id ? 'operation committed' : 'replicated operation applied');
        }
      },
    });
    await store.claim(options.id);
    if ((options.verify ?? 'full') === 'full') {
      const started = performance.now();
      const report = store.verify();
      if (!report.ok) {
        throw new StoreDamagedError(
          `the store at ${options.dataDir} is damaged (${report.problem}); refusing to serve from it. ` +
            'Restore the directory from a backup (or let a replica rebuild it once replication exists), or start with another --data-dir.',
        );
      }
      logger.info({ ops: report.ops, ms: Math.round(performance.now() - started) }, 'store verified');
    }
    // The Lamport mark is persisted ahead of use, so a restarted server never reissues a value.
    const lamport = openLamportClock(options.dataDir, store.clocks().lc, logger);
    const own = store.op(options.id, store.highWaterMark(options.id))?.hlc ?? [0, 0];
    const clock = new OperationClock({ time, stored: store.clocks(), own, maxOffsetMs: options.maxClockOffsetMs ?? 60_000, lamport });
    if (clock.skipped) {
      logger.warn(
        { storedHlc: clock.skipped },
        'the store holds operations of other origins stamped too far ahead to merge (stored, never merged, as when they arrived); this clock resumes past this server\'s own operations only',
      );
    }
    // The server's one clock stamps the direct endpoint's replies and links' requests, as its service's.
    const stamp = new ClockStamp(options.id, { clock: lamport, time });
    const link = options.peerLink ?? defaultPeerLink({ broker: options.broker, curve: options.curve !== undefined, ref: options.ref !== false });
    // Bound before registering, so that its address goes into the registration.
    if (link) {
      peerEndpoint = await openPeerEndpoint({
        id: options.id,
        link,
        handler: (request, context) => {
          const serve = directHandler(`srv.${options.id}`);
          if (serve === undefined) throw new UnavailableError(`server ${options.id} is starting`);
          return serve(request, context);
        },
        // Clients skip the broker too (revision 1.9): `chat` always, `tasks` while it coordinates the task queue.
        also: (name) => (name === 'chat' || (name === TASKS_SERVICE && coordinatingTasks()) ? directHandler(name) : undefined),
        stamp,
        concurrency: options.directConcurrency ?? DEFAULT_DIRECT_CONCURRENCY,
        logger,
      });
    }
    const links = (peerLinks = new PeerLinks({
      broker: { request: (...args) => service!.client.transport.request(...args) },
      endpointOf: (peer) => members.peerEndpoint(peer),
      stamp,
      logger,
    }));
    const members = new Cluster({
      id: options.id,
      broker: options.broker,
      proxy: options.proxy,
      ref: options.ref === false ? undefined : (options.ref ?? {}),
      ...(options.clockSync ? { clockSync: options.clockSync } : {}),
      ...(options.clockError ? { injected: options.clockError } : {}),
      ...(options.curve ? { curve: options.curve.broker } : {}),
      ...(sidecar ? { http: options.http?.url ?? reachableUrl(sidecar) } : {}),
      ...(peerEndpoint ? { peer: peerEndpoint.advertised } : {}),
      lamport,
      time,
      logger,
      metrics,
    });
    cluster = members;
    // Operations are announced through the service's publisher, once the service exists.
    const fanout = new OperationFanout((topic, type, body) => service!.publish(topic, type, body), logger);
    const replication = new ServerReplication({
      id: options.id,
      store,
      clock,
      peers: options.peers ?? (() => members.peers()),
      // Replicated operations are stored only from servers the list holds, alive or not.
      members: options.peers ?? (() => members.listed()),
      // Only an origin this server already hears of as a live server can be missing from its copy of the list alone.
      ...(options.peers
        ? {}
        : {
            onUnlisted: (origins) => {
              if (origins.some((origin) => members.peers().includes(origin))) members.refreshListed();
            },
          }),
      proxySub: options.proxy.sub,
      ...(options.curve ? { curve: options.curve.proxy } : {}),
      logger,
      time,
      ...(options.replication ?? {}),
      ...(options.ackTimeoutMs === undefined ? {} : { ackTimeoutMs: options.ackTimeoutMs }),
      request: (peer, type, body, requestOptions) => links.request(peer, type, body, requestOptions),
    });
    stopReplication = () => replication.stop();
    const authOptions = options.auth ?? {};
    const keysFile = authOptions.keysFile ?? join(options.dataDir, 'auth-keys.json');
    // The default file is generated on first start; a file given explicitly must exist (a typo would split the cluster's keys).
    keys = await KeyRing.open(keysFile, { create: authOptions.keysFile === undefined, checkIntervalMs: authOptions.keysCheckIntervalMs ?? 5_000, logger });
    const tokens = new TokenAuthority({
      keys,
      ...(authOptions.issuer ? { issuer: authOptions.issuer } : {}),
      ...(authOptions.audience ? { audience: authOptions.audience } : {}),
      ...(authOptions.accessTtlMs ? { accessTtlMs: authOptions.accessTtlMs } : {}),
      ...(authOptions.refreshTtlMs ? { refreshTtlMs: authOptions.refreshTtlMs } : {}),
    });
    const auth = new Authenticator({ mode: authOptions.mode ?? 'open', tokens, store, logger, metrics, operators: authOptions.operators ?? [] });
    const ackPeers = options.ackPeers ?? 0;
    const startPageSize = options.pageSize ?? 50;
    const handlers = new ChatServer({
      id: options.id,
      store,
      clock,
      fanout,
      pageSize: startPageSize,
      auth,
      ...(ackPeers > 0 ? { confirm: (op) => replication.confirm(op, ackPeers), sendAhead: options.sendAhead ?? true, onSendAheadLost: () => replication.resolveSentAhead() } : {}),
    });
    const unregisterLive = registerLiveSetting('pageSize', (value) => (handlers.pageSize = typeof value === 'number' ? value : startPageSize));
    const configHandlers = new ConfigHandlers({
      id: options.id,
      store,
      clock,
      auth,
      coordinator: () => members.coordinatorId(),
      forward: (server, type, body, ctx) =>
        links.request(server, type, body as never, { id: ctx.id, timeout: CONFIG_FORWARD_TIMEOUT_MS, ...(ctx.envelope.auth === undefined ? {} : { auth: ctx.envelope.auth }) }),
      syncWithPeers: () => replication.syncWithPeers(),
      // Every live server holds a version before it is acknowledged: a newly elected coordinator continues from it.
      confirmEverywhere: async (op) => {
        const peers = replication.peers();
        if (replication.state !== 'off' && peers.length > 0) await replication.confirm(op, peers.length);
      },
      announce: (changed) => service!.publish(`config/${changed.program}/`, 'config.changed', changed),
    });
    // The central logs: their own store, so a flood of lines never slows a chat commit.
    const { maxAgeMs, maxChars, syncIntervalMs, pruneIntervalMs } = options.logs ?? {};
    logStore = new LogStore({ path: join(options.dataDir, 'logs'), ...(maxAgeMs === undefined ? {} : { maxAgeMs }), ...(maxChars === undefined ? {} : { maxChars }) });
    const logSync = new LogSync({
      store: logStore,
      peers: () => (replication.state === 'off' ? [] : replication.peers()),
      request: async (peer, type, body) => {
        const reply = await links.request(peer, type, body as never, { timeout: LOG_PEER_TIMEOUT_MS });
        if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
        return reply.body as never;
      },
      logger,
      ...(syncIntervalMs === undefined ? {} : { intervalMs: syncIntervalMs }),
      ...(pruneIntervalMs === undefined ? {} : { pruneIntervalMs }),
    });
    const logHandlers = new LogHandlers({ id: options.id, store: logStore, auth, copyToPeers: (lines) => logSync.copyToPeers(lines) });
    // The task queue: its own store on every server; the coordinator decides and copies.
    const openTaskStore = (taskStore = new TaskStore({ path: join(options.dataDir, 'tasks') }));
    const livePeers = (): readonly string[] => (replication.state === 'off' ? [] : replication.peers());
    const peerRequest = async <T>(peer: string, type: 'tasks.copy.request' | 'tasks.list.request' | 'tasks.schedules.request', body: object): Promise<T> => {
      const reply = await links.request(peer, type, body as never, { timeout: TASK_PEER_TIMEOUT_MS });
      if (reply.type === 'error') throw CorreioError.fromWire(reply.body);
      return reply.body as T;
    };
    // Without the election, servers given static peers would each decide: none does then.
    const isTaskCoordinator = (): boolean => members.coordinatorId() === 'self' && !(options.ref === false && options.peers !== undefined);
    const taskQueue = new TaskQueue({
      coordinating: isTaskCoordinator,
      store: openTaskStore,
      replicator: new TaskReplicator({
        peers: livePeers,
        send: async (peer, jobs, schedules) => void (await peerRequest(peer, 'tasks.copy.request', { jobs, ...(schedules.length === 0 ? {} : { schedules }) })),
        ...(options.tasks?.replicas === undefined ? {} : { replicas: options.tasks.replicas }),
        logger,
      }),
      announce: (job) => service!.publish(`tasks/${job.queue}/`, 'tasks.event', taskEvent(job)),
      now: () => time.now(),
      onSettled: taskMetrics(metrics, openTaskStore),
      ...(options.tasks?.rateLimits === undefined ? {} : { rateLimits: options.tasks.rateLimits }),
      logger,
    });
    const tasksCoordination = new TaskCoordination({
      store: openTaskStore,
      queue: taskQueue,
      isCoordinator: isTaskCoordinator,
      peers: livePeers,
      peerSchedules: async (peer) => (await peerRequest<BodyOf<'tasks.schedules.reply'>>(peer, 'tasks.schedules.request', {})).schedules,
      listPeer: (peer, after) => peerRequest(peer, 'tasks.list.request', { limit: 1_000, ...(after === undefined ? {} : { after }) }),
      serve: (on) => (on ? service!.startServing(TASKS_SERVICE, { concurrency: options.tasks?.concurrency ?? TASKS_CONCURRENCY }) : service!.stopServing(TASKS_SERVICE)),
      now: () => time.now(),
      logger,
    });
    coordinatingTasks = () => tasksCoordination.acting;
    const directEndpoint = peerEndpoint?.advertised;
    // Named exactly while the endpoint serves `tasks` (the same predicate as `also` above).
    const taskHandlers = new TaskHandlers({ id: options.id, store: openTaskStore, queue: taskQueue, auth, directEndpoint: () => (coordinatingTasks() ? directEndpoint : undefined) });
    service = createService({
      name: 'chat',
      instance: options.id,
      // The replica.* requests are served next to the chat ones; chat and config wait for the catch-up.
      handlers: combineHandlers(handlers, configHandlers, logHandlers, taskHandlers, replication.handlers, members.handlers),
      middleware: [members.middleware, replication.gate],
      serve: ['chat', `srv.${options.id}`, 'config', LOGS_SERVICE],
      // Configuration is read at programs' start and changed by hand: a few connections serve it.
      // Log shipments are one in flight per program: a few connections keep them from taking chat's.
      serviceConcurrency: { config: CONFIG_CONCURRENCY, [LOGS_SERVICE]: LOGS_CONCURRENCY },
      broker: options.broker,
      proxy: options.proxy,
      concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
      // The store deduplicates by request id, durably and across restarts, and answers an id reused
      // for another request with CONFLICT; an in-memory cache in front of it would only disagree.
      deduplicate: false,
      clock: clock.lamport,
      time,
      logger,
      metrics: new PromMetrics(metrics.registry),
      ...(options.heartbeat ? { heartbeat: { ...(options.heartbeat.intervalMs ? { interval: options.heartbeat.intervalMs } : {}), ...(options.heartbeat.liveness ? { liveness: options.heartbeat.liveness } : {}) } } : {}),
      drainTimeout: options.drainTimeoutMs ?? 5_000,
      startTimeout: options.startTimeoutMs ?? 30_000,
      ...(options.curve ? { socket: { curve: options.curve.broker } } : {}),
    });
    const openStore = store;
    const openKeys = keys;
    const startedService = service;
    // A stat per store file; a dashboard polling every server each second need not cost more.
    const storeBytes = cachedFor(1_000, () => openStore.sizeOnDisk());
    const health = (): ServerHealth => {
      const state = startedService.health();
      const ready = state.state === 'running' && replication.caughtUp;
      const digest = openStore.digest();
      const replicationHealth = replication.health();
      const cluster = members.health();
      return {
        ready,
        status: ready ? 'ok' : state.state === 'running' ? 'catching-up' : state.state,
        id: options.id,
        ...dashboardHealth({ digest, storeBytes: storeBytes(), lamport: state.lc, cluster, replication: replicationHealth, recent: recent.newestFirst() }),
        store: { path: options.dataDir, ...digest },
        inFlight: state.inFlight,
        lc: state.lc,
        serving: state.serving,
        committed: { ...handlers.counters.committed },
        deduplicated: handlers.counters.deduplicated,
        publicationsDropped: fanout.counters.dropped,
        replication: replicationHealth,
        tasks: { coordinating: tasksCoordination.acting, jobs: openTaskStore.size },
        peerLink: { ...links.stats, ...(peerEndpoint ? { endpoint: peerEndpoint.advertised } : {}), served: peerEndpoint?.stats().requests ?? 0 },
        ...cluster,
      };
    };
    currentHealth = health;
    serverMetrics(metrics, { store: openStore, handlers, fanout, lamport, berkeleyPollsRefused: () => members.sync.status().pollsRefused });
    replicationMetrics(metrics, { store: openStore, replication });
    logMetrics(metrics, { store: logStore, sync: logSync });
    await noticeWhileStarting(service.start(), service, { broker: options.broker, proxyPub: options.proxy.pub, proxySub: options.proxy.sub }, logger);
    // Joined (rank, live list) before the catch-up, which takes its peers from that list.
    await members.start();
    // Ready only once it holds what its reachable peers hold; until then chat requests are refused (retryable).
    const catchUp = await replication.start(service);
    logSync.start();
    // Only a server holding what its peers hold may take the task queue over.
    tasksCoordination.start();
    if (options.ref === false && options.peers !== undefined) {
      logger.warn('the task queue is not served: with static peers and no reference server there is no election to pick the one server that runs it (start the servers with --ref)');
    }
    const openLogStore = logStore;
    const digest = store.digest();
    const parts = [`server ready ${options.id}`, `broker=${options.broker}`, `data=${options.dataDir}`, `ops=${digest.ops}`];
    if (catchUp.peers.length > 0) parts.push(`fetched=${catchUp.fetched}`);
    if (sidecar) parts.push(`http=${sidecar.url}`);
    logger.info({ ops: digest.ops, hwm: digest.hwm, serving: service.health().serving }, 'server ready');
    let closing: Promise<void> | undefined;
    return {
      id: options.id,
      service,
      store,
      sidecar,
      metrics,
      replication,
      cluster: members,
      keys: openKeys,
      catchUp,
      readyLine: parts.join(' '),
      health,
      close: () => {
        closing ??= (async () => {
          unregisterLive();
          await members.stop(); // steps down at once and stops heartbeating: a successor is elected meanwhile
          await tasksCoordination.stop(); // leaves the tasks service and answers its long polls
          await startedService.stop(); // drains in-flight requests: their commits finish before the store closes
          await peerEndpoint?.stop(); // and those that came directly from peers
          await replication.stop(); // then the live applies and the anti-entropy rounds
          await logSync.stop();
          await links.close();
          await sidecar?.close();
          await openStore.close();
          await openLogStore.close();
          await openTaskStore.close();
          openKeys.close();
          lock.release();
          logger.info('server stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    if (error instanceof StoreDamagedError) logger.fatal({ err: error, dataDir: options.dataDir }, error.message);
    await service?.stop().catch(() => undefined);
    await peerEndpoint?.stop().catch(() => undefined);
    await stopReplication?.().catch(() => undefined);
    await peerLinks?.close().catch(() => undefined);
    await cluster?.stop().catch(() => undefined);
    await sidecar?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await logStore?.close().catch(() => undefined);
    await taskStore?.close().catch(() => undefined);
    keys?.close();
    lock.release();
    throw error;
  }
}

function ensureDir(dir: string): string {
  // ChatStore.open creates it too; the lock file goes in first.
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The side port's URL as another process can use it: a wildcard bind address says nothing, the host name does. */
function reachableUrl(sidecar: HttpSidecar): string {
  return ['0.0.0.0', '::', '[::]'].includes(sidecar.host) ? `http://${hostname()}:${sidecar.port}` : sidecar.url;
}
