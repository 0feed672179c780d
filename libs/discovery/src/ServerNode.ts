import { BadRequestError, UnavailableError } from '@correio/codec';
import { MESSAGE_INFO, type AnyEnvelope, type BodyOf, type ElectionElectionReply, type ElectionElectionRequest, type MessageType } from '@correio/protocol';
import {
  LamportStamp,
  Publisher,
  RequestClient,
  TypedEvents,
  Worker,
  type CurveOptions,
  type RequestHandler,
  type RequestOptions,
  type Stamp,
  type WorkerStats,
} from '@correio/transport';
import { componentLogger, type Logger } from '@correio/observability';
import type { CoordinatorInfo, ElectionRole, ElectionState } from './BullyElection.js';
import { curveOf } from './curveOf.js';
import { Discovery, type DiscoveryEventMap } from './Discovery.js';
import { ElectionDriver } from './ElectionDriver.js';
import { ELECTION_TOPIC, serverService } from './names.js';
import type { MembershipChange, ServerInfo } from './ServerDirectory.js';

/** How long an election request waits for a just-registered server to join. */
const JOIN_WAIT_MS = 500;

export interface ServerNodeOptions {
  /** This server's id (a node id: 1–128 printable ASCII characters). */
  readonly server: string;
  /** This server's own address, shown in the server list (informative). */
  readonly endpoint?: string;
  /** Where this server serves /health and /metrics, shown in the server list. */
  readonly http?: string;
  /** Where other servers reach this server directly, without the broker (revision 1.8), shown in the server list. */
  readonly peer?: string;
  /** The broker's MDP endpoint. */
  readonly broker: string;
  /** The reference server's broker service. Default `ref`. */
  readonly refService?: string;
  /** The proxy's publisher side (its XSUB), where announcements are published. */
  readonly publishEndpoint: string;
  /** The proxy's subscriber side (its XPUB), for membership events and announcements. */
  readonly subscribeEndpoint: string;
  /** Heartbeat period; must not exceed the reference server's `--heartbeat`. Default 1000 ms. */
  readonly heartbeatIntervalMs?: number;
  /** The reference server's `--misses`: with the heartbeat period it sets the default lease. Default 3. */
  readonly refMisses?: number;
  /**
   * How long an acknowledged heartbeat entitles this server to act as coordinator, from its send time.
   * Default heartbeatIntervalMs × refMisses, the most that is safe; Infinity turns leases off (then a
   * coordinator keeps acting while it cannot reach the reference server, and a paused one may act on
   * resumption until it reads its messages).
   */
  readonly leaseMs?: number;
  /** How long a candidate waits for higher-ranked servers. Default 1000 ms. */
  readonly electionTimeoutMs?: number;
  /** The coordinator re-announces itself this often. Default electionTimeoutMs. */
  readonly announceIntervalMs?: number;
  /** A follower that hears nothing from its coordinator this long starts an election; 0 disables. Default 3 × announce + election timeout. */
  readonly silenceMs?: number;
  /** Full server list requests, besides events. Default 5000 ms. */
  readonly refreshIntervalMs?: number;
  /** Requests to the reference server time out after this. Default heartbeatIntervalMs. */
  readonly refRequestTimeoutMs?: number;
  /**
   * Whether the node opens its own MDP worker for `srv.<id>`. Default true. Pass false when the
   * server already serves `srv.<id>` itself (with a service framework, say): one process must
   * register a broker service through ONE set of worker connections, or the broker splits
   * requests among them at random. The host then answers `election.election.request` with
   * `answerElection()`, and `handle()` is not available.
   */
  readonly worker?: boolean;
  /** `srv.<id>` requests served at once (MDP worker connections). Default 4. */
  readonly concurrency?: number;
  /** MDP heartbeating of the `srv.<id>` worker with the broker (FRAMES.md §1.6). Defaults: 2500 ms, 3. */
  readonly workerHeartbeatIntervalMs?: number;
  readonly workerLiveness?: number;
  /** Stamps everything this node sends and observes what it receives; default a LamportStamp. */
  readonly stamp?: Stamp;
  /** CURVE keys for every socket of the node (broker and proxy share one server key). */
  readonly curve?: CurveOptions;
  readonly logger?: Logger;
}

export interface ServerNodeEventMap {
  membership: MembershipChange;
  /** The election state changed: role, `acting`, or the coordinator. */
  role: { readonly state: ElectionState; readonly previous: ElectionState };
  /** Registered with this rank and taking part in elections. */
  registered: { readonly rank: number };
  ref: DiscoveryEventMap['ref'];
}

/**
 * One messaging server's membership in the cluster: it registers with the reference server and
 * heartbeats, keeps the server list, takes part in the bully election, and serves its own broker
 * service `srv.<id>` — election requests built in, and whatever else the server plugs in with
 * `handle()` (clock.*, replica.*, chat.* read from this replica). A server that serves `srv.<id>`
 * itself passes `worker: false` and hands election requests to `answerElection()`.
 *
 * Act as coordinator only while `isCoordinator` is true; it turns false as soon as the lease lapses,
 * before any successor can be elected.
 */
export class ServerNode {
  readonly server: string;
  readonly events = new TypedEvents<ServerNodeEventMap>();
  readonly #client: RequestClient;
  readonly #publisher: Publisher;
  readonly #worker: Worker | undefined;
  readonly #discovery: Discovery;
  readonly #election: ElectionDriver;
  readonly #handlers = new Map<MessageType, RequestHandler>();
  readonly #publishEndpoint: string;
  readonly #log: Logger;
  #state: 'new' | 'running' | 'stopped' = 'new';
  #startAbort = new AbortController();

  constructor(options: ServerNodeOptions) {
    this.server = options.server;
    this.#log = componentLogger('server-node', options.logger).child({ server: options.server });
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 1000;
    const refMisses = options.refMisses ?? 3;
    const stamp = options.stamp ?? new LamportStamp(options.server);
    this.#publishEndpoint = options.publishEndpoint;
    this.#client = new RequestClient({ endpoint: options.broker, stamp, logger: this.#log, ...curveOf(options) });
    this.#publisher = new Publisher({ stamp, logger: this.#log, ...curveOf(options) });
    this.#worker =
      options.worker === false
        ? undefined
        : new Worker({
            endpoint: options.broker,
            service: serverService(options.server),
            handler: (request, context) => this.#serve(request, context),
            concurrency: options.concurrency ?? 4,
            stamp,
            logger: this.#log,
            ...curveOf(options),
            ...(options.workerHeartbeatIntervalMs !== undefined ? { heartbeatInterval: options.workerHeartbeatIntervalMs } : {}),
            ...(options.workerLiveness !== undefined ? { liveness: options.workerLiveness } : {}),
          });
    this.#discovery = new Discovery({
      broker: options.broker,
      ...(options.refService !== undefined ? { refService: options.refService } : {}),
      subscribeEndpoint: options.subscribeEndpoint,
      server: options.server,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.http !== undefined ? { http: options.http } : {}),
      ...(options.peer !== undefined ? { peer: options.peer } : {}),
      heartbeatIntervalMs,
      ...(options.refreshIntervalMs !== undefined ? { refreshIntervalMs: options.refreshIntervalMs } : {}),
      ...(options.refRequestTimeoutMs !== undefined ? { requestTimeoutMs: options.refRequestTimeoutMs } : {}),
      topics: [ELECTION_TOPIC],
      ...curveOf(options),
      client: this.#client,
      stamp,
      logger: this.#log,
    });
    this.#election = new ElectionDriver({
      server: options.server,
      client: this.#client,
      publisher: this.#publisher,
      log: this.#log,
      leaseMs: options.leaseMs ?? heartbeatIntervalMs * refMisses,
      ...(options.electionTimeoutMs !== undefined ? { electionTimeoutMs: options.electionTimeoutMs } : {}),
      ...(options.announceIntervalMs !== undefined ? { announceIntervalMs: options.announceIntervalMs } : {}),
      ...(options.silenceMs !== undefined ? { silenceMs: options.silenceMs } : {}),
      onChange: (state, previous) => this.events.emit('role', { state, previous }),
    });
    this.#wire();
  }

  /** This server's rank, once registered. */
  get rank(): number | undefined {
    return this.#discovery.rank;
  }

  /** True while this server is the coordinator and may act as one (its lease holds). */
  get isCoordinator(): boolean {
    return this.#election.isActing();
  }

  /** The coordinator this server follows (itself when coordinating); undefined when none is known. */
  get coordinator(): CoordinatorInfo | undefined {
    return this.#election.state()?.coordinator;
  }

  get role(): ElectionRole {
    return this.#election.state()?.role ?? 'follower';
  }

  /** The highest election term seen. */
  get term(): number {
    return this.#election.state()?.term ?? 0;
  }

  /** Every listed server, ordered by rank: the last known list while the reference server is down. */
  get servers(): ServerInfo[] {
    return this.#discovery.servers;
  }

  /** The servers counted alive, ordered by rank. */
  /** The servers the latest list from the reference server named, alive or not. */
  get listedByRef(): ReadonlySet<string> {
    return this.#discovery.listedByRef;
  }

  /** Asks the reference server for its list soon (coalesced): a server heard of only by its events is then listed. */
  refreshSoon(): void {
    this.#discovery.refreshSoon();
  }

  get liveServers(): ServerInfo[] {
    return this.#discovery.live;
  }

  /** One server's cached entry (its addresses among them), if it is listed. */
  serverInfo(server: string): ServerInfo | undefined {
    return this.#discovery.serverInfo(server);
  }

  get refAvailable(): boolean | undefined {
    return this.#discovery.refAvailable;
  }

  /** The request client this node uses; the server may send its own requests through it. */
  get client(): RequestClient {
    return this.#client;
  }

  /** The `srv.<id>` worker's counters; undefined when the node has no worker of its own (`worker: false`). */
  get workerStats(): WorkerStats | undefined {
    return this.#worker?.stats;
  }

  /**
   * Serves requests of `type` on `srv.<id>`, besides the built-in `election.election.request`.
   * May be called before or after start(). Not available with `worker: false`: the host serves
   * `srv.<id>` and its handlers.
   */
  handle(type: MessageType, handler: RequestHandler): this {
    if (this.#worker === undefined) throw new Error(`server node ${this.server} has no srv.<id> worker of its own (worker: false): serve ${type} through the host's worker`);
    if (MESSAGE_INFO[type]?.pattern !== 'request') throw new RangeError(`${type} is not a request type`);
    if (type === 'election.election.request') throw new RangeError('election.election.request is served by the node itself');
    this.#handlers.set(type, handler);
    return this;
  }

  /** Sends a request to one server's `srv.<id>` service. */
  request<T extends MessageType>(server: string, type: T, body: BodyOf<T>, options?: RequestOptions): Promise<AnyEnvelope> {
    return this.#client.request(serverService(server), type, body, options);
  }

  /**
   * Starts serving `srv.<id>` and joins: resolves with the rank once registered (retrying while the
   * reference server is unreachable), rejects if `signal` aborts or the node is stopped first.
   */
  async start(options: { readonly signal?: AbortSignal } = {}): Promise<number> {
    if (this.#state !== 'new') throw new Error(`the node is already ${this.#state}`);
    this.#state = 'running';
    this.#publisher.connect(this.#publishEndpoint);
    this.#worker?.start();
    this.#discovery.start();
    const signal = options.signal ? AbortSignal.any([options.signal, this.#startAbort.signal]) : this.#startAbort.signal;
    return this.#whenJoined(signal);
  }

  /** Leaves: stops acting at once, stops heartbeating (the reference server marks it down), closes sockets. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#startAbort.abort(new UnavailableError('the server node was stopped'));
    this.#election.stop();
    await this.#discovery.stop();
    await this.#worker?.stop({ drainTimeout: 1000 });
    await this.#publisher.close({ flushTimeout: 200 });
    await this.#client.close();
  }

  /** Resolves with the rank once registered and taking part in elections. */
  #whenJoined(signal: AbortSignal): Promise<number> {
    const rank = this.#election.rank;
    if (rank !== undefined) return Promise.resolve(rank);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        off();
        reject(signal.reason as Error);
      };
      const off = this.events.on('registered', (event) => {
        signal.removeEventListener('abort', onAbort);
        off();
        resolve(event.rank);
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #wire(): void {
    const discovery = this.#discovery;
    discovery.events.on('registered', ({ rank, sentAt }) => {
      if (this.#election.rank === rank) {
        this.#election.renewLease(sentAt);
        this.events.emit('registered', { rank });
        return;
      }
      // Join only with a fresh list: a server that knew no peers would win an election on its own.
      void this.#discovery
        .refresh()
        .catch((error: unknown) => this.#log.warn({ err: error }, 'no server list before joining the election; using the cached one'))
        .then(() => {
          if (this.#state !== 'running' || this.#discovery.rank !== rank) return;
          this.#election.join(rank, sentAt);
          this.events.emit('registered', { rank });
        });
    });
    discovery.events.on('heartbeat', ({ sentAt, known }) => (known ? this.#election.renewLease(sentAt) : this.#election.revokeLease()));
    discovery.events.on('membership', (change) => {
      this.#election.setPeers(discovery.servers.map(({ server, rank, alive }) => ({ server, rank, alive })));
      this.events.emit('membership', change);
    });
    discovery.events.on('ref', (event) => this.events.emit('ref', event));
    discovery.events.on('publication', ({ envelope }) => {
      if (envelope.type === 'election.coordinator') this.#election.onAnnouncement(envelope.body);
    });
  }

  /**
   * Answers an `election.election.request` addressed to this server: what the built-in worker does,
   * for a host that serves `srv.<id>` itself (`worker: false`). Throws a retryable UnavailableError
   * while this server has no rank (not registered yet, or stopped).
   */
  async answerElection(request: ElectionElectionRequest, signal?: AbortSignal): Promise<ElectionElectionReply> {
    // Registered but not yet joined (it is reading the list): the answer is a moment away.
    if (this.#election.rank === undefined && this.#discovery.rank !== undefined && this.#state === 'running') {
      const wait = AbortSignal.timeout(JOIN_WAIT_MS);
      await this.#whenJoined(signal ? AbortSignal.any([signal, wait]) : wait).catch(() => undefined);
    }
    const reply = this.#election.onRequest(request);
    if (reply === undefined) throw new UnavailableError(`server ${this.server} has no rank yet; it cannot take part in elections`);
    return reply;
  }

  async #serve(request: AnyEnvelope, context: Parameters<RequestHandler>[1]): Promise<object> {
    if (request.type === 'election.election.request') return this.answerElection(request.body as ElectionElectionRequest, context.signal);
    const handler = this.#handlers.get(request.type);
    if (handler === undefined) throw new BadRequestError(`srv.${this.server} does not serve ${request.type}`, { data: { type: request.type } });
    return handler(request, context);
  }
}
