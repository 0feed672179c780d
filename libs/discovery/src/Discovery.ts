import { CorreioError } from '@correio/codec';
import type { AnyEnvelope, BodyOf, MessageType, RefHeartbeatReply, RefRegisterReply, RefServersReply } from '@correio/protocol';
import { LamportStamp, RequestClient, Subscriber, TypedEvents, type CurveOptions, type Publication, type Stamp } from '@correio/transport';
import { componentLogger, type Logger } from '@correio/observability';
import { curveOf } from './curveOf.js';
import { monotonicNow } from './monotonicNow.js';
import { MEMBERSHIP_TOPIC, REF_SERVICE } from './names.js';
import { requestIdempotent } from './requestIdempotent.js';
import { ServerDirectory, type MembershipChange, type ServerInfo } from './ServerDirectory.js';
import { sleep } from './sleep.js';

export interface DiscoveryOptions {
  /** The broker's MDP endpoint, through which the reference server (service `ref`) is reached. */
  readonly broker: string;
  /** The reference server's broker service. Default `ref` (REF_SERVICE). */
  readonly refService?: string;
  /** The proxy's subscriber side (its XPUB), for `ref.membership` events. Without it the list is only polled. */
  readonly subscribeEndpoint?: string;
  /** Register and heartbeat as this server id. Without it, the client only watches the list. */
  readonly server?: string;
  /** This server's own address, shown in the list (informative). */
  readonly endpoint?: string;
  /** Where this server serves /health and /metrics, shown in the list (revision 1.3: dashboards find it there). */
  readonly http?: string;
  /** Where other servers reach this server directly (revision 1.8), shown in the list. */
  readonly peer?: string;
  /** Heartbeat period, ms; must not exceed the reference server's. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Period of full list requests, besides events, ms. Default 5000. */
  readonly refreshIntervalMs?: number;
  /** Timeout of each request to the reference server, ms. Default heartbeatIntervalMs. */
  readonly requestTimeoutMs?: number;
  /** More topic prefixes to subscribe to on the same socket; their publications are emitted as `publication`. */
  readonly topics?: readonly string[];
  /** A request client to share (the caller closes it); by default the client opens its own. */
  readonly client?: RequestClient;
  /** Stamps requests and observes replies and events; defaults to a LamportStamp for `server`. */
  readonly stamp?: Stamp;
  /** CURVE keys for the broker and proxy connections (the same server key on both). */
  readonly curve?: CurveOptions;
  readonly logger?: Logger;
}

export interface DiscoveryEventMap {
  /** A server came up, went down or left the cached list. */
  membership: MembershipChange;
  /** The reference server gave this server its rank; `sentAt` is when the request left (monotonic ms). */
  registered: { readonly rank: number; readonly sentAt: number };
  /** A heartbeat was answered. `known: false` means the reference server forgot us: we register again. */
  heartbeat: { readonly sentAt: number; readonly alive: boolean; readonly known: boolean };
  /** The reference server became reachable or unreachable. */
  ref: { readonly available: boolean };
  /** A publication on one of the extra `topics`. */
  publication: Publication;
}

/** Ms between two list reads asked for by `up` events. */
const ADDRESS_REFRESH_MS = 250;

/**
 * The client side of the reference-server protocol: registration, a heartbeat loop, and a cached
 * server list that keeps serving while the reference server is down. The cache follows
 * `ref.membership` events as they come and is re-read in full periodically, after a lost event
 * (a sequence gap), after registering, and soon after another server registers (its addresses),
 * so it heals from anything missed.
 */
export class Discovery {
  readonly events = new TypedEvents<DiscoveryEventMap>();
  readonly server: string | undefined;
  readonly #directory = new ServerDirectory();
  readonly #client: RequestClient;
  readonly #ownsClient: boolean;
  readonly #subscriber: Subscriber | undefined;
  readonly #log: Logger;
  readonly #endpoint: string | undefined;
  readonly #http: string | undefined;
  readonly #peer: string | undefined;
  /** The list read an `up` event asked for, while it waits (see #readAddressesSoon). */
  #addressRefresh: NodeJS.Timeout | undefined;
  #lastAddressRefresh = -Infinity;
  readonly #heartbeatIntervalMs: number;
  readonly #refreshIntervalMs: number;
  readonly #requestTimeoutMs: number;
  readonly #refService: string;
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #state: 'new' | 'running' | 'stopped' = 'new';
  #rank: number | undefined;
  #refAvailable: boolean | undefined;
  #refreshWanted = false;
  #publicationFailures = 0;
  #wakeRefresh: (() => void) | undefined;

  constructor(options: DiscoveryOptions) {
    this.server = options.server;
    this.#endpoint = options.endpoint;
    this.#http = options.http;
    this.#peer = options.peer;
    this.#log = componentLogger('discovery', options.logger).child(options.server ? { server: options.server } : {});
    this.#heartbeatIntervalMs = positive(options.heartbeatIntervalMs ?? 1000, 'heartbeatIntervalMs');
    this.#refreshIntervalMs = positive(options.refreshIntervalMs ?? 5000, 'refreshIntervalMs');
    this.#requestTimeoutMs = positive(options.requestTimeoutMs ?? this.#heartbeatIntervalMs, 'requestTimeoutMs');
    this.#refService = options.refService ?? REF_SERVICE;
    const stamp = options.stamp ?? new LamportStamp(options.server ?? `discovery-${process.pid}`);
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new RequestClient({ endpoint: options.broker, stamp, logger: this.#log, timeout: this.#requestTimeoutMs, ...curveOf(options) });
    if (options.subscribeEndpoint !== undefined) {
      this.#subscriber = new Subscriber({ topics: [MEMBERSHIP_TOPIC, ...(options.topics ?? [])], stamp, logger: this.#log, ...curveOf(options) });
      // A lost event or a restarted reference server: the cache may be wrong; re-read it.
      this.#subscriber.events.on('gap', ({ topic }) => topic === MEMBERSHIP_TOPIC && this.refreshSoon());
      this.#subscriber.events.on('reset', ({ topic }) => topic === MEMBERSHIP_TOPIC && this.refreshSoon());
      this.#subscriber.connect(options.subscribeEndpoint);
    }
  }

  /** This server's rank, once registered. */
  get rank(): number | undefined {
    return this.#rank;
  }

  /** Every listed server, ordered by rank (the last known list while the reference server is down). */
  get servers(): ServerInfo[] {
    return this.#directory.servers;
  }

  /** The servers the latest list from the reference server named (membership events cannot add to it). */
  get listedByRef(): ReadonlySet<string> {
    return this.#directory.listedByRef;
  }

  /** The servers counted alive, ordered by rank. */
  get live(): ServerInfo[] {
    return this.#directory.live;
  }

  /** One server's cached entry, if it is listed. */
  serverInfo(server: string): ServerInfo | undefined {
    return this.#directory.info(server);
  }

  /** The coordinator the reference server reported in its latest list. */
  get coordinatorHint(): string | undefined {
    return this.#directory.coordinatorHint;
  }

  /** Whether the last request to the reference server got an answer; undefined before the first. */
  get refAvailable(): boolean | undefined {
    return this.#refAvailable;
  }

  /** Publications whose handling threw (each logged and skipped; the loop goes on). */
  get publicationFailures(): number {
    return this.#publicationFailures;
  }

  get(server: string): ServerInfo | undefined {
    return this.#directory.get(server);
  }

  /** Starts the loops: events, periodic list refresh, and (with a server id) registration and heartbeats. */
  start(): this {
    if (this.#state !== 'new') throw new Error(`discovery is already ${this.#state}`);
    this.#state = 'running';
    if (this.#subscriber) this.#loops.push(this.#receiveLoop(this.#subscriber));
    this.#loops.push(this.#refreshLoop());
    if (this.server !== undefined) this.#loops.push(this.#heartbeatLoop(this.server));
    return this;
  }

  /** Stops the loops and closes the sockets this client opened. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#abort.abort();
    clearTimeout(this.#addressRefresh);
    this.#wakeRefresh?.();
    await this.#subscriber?.close();
    if (this.#ownsClient) await this.#client.close();
    await Promise.all(this.#loops);
  }

  /** Resolves with the rank once registered (at once if already); rejects when `signal` aborts. */
  whenRegistered(signal?: AbortSignal): Promise<number> {
    if (this.#rank !== undefined) return Promise.resolve(this.#rank);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        off();
        reject(signal!.reason as Error);
      };
      const off = this.events.on('registered', ({ rank }) => {
        signal?.removeEventListener('abort', onAbort);
        off();
        resolve(rank);
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** One registration attempt: the rank, or a typed error. */
  async register(): Promise<number> {
    if (this.server === undefined) throw new RangeError('this discovery client has no server id to register');
    const sentAt = monotonicNow();
    const reply = (await this.#ask('ref.register.request', {
      server: this.server,
      ...(this.#endpoint !== undefined ? { endpoint: this.#endpoint } : {}),
      ...(this.#http !== undefined ? { http: this.#http } : {}),
      ...(this.#peer !== undefined ? { peer: this.#peer } : {}),
    })) as RefRegisterReply;
    if (this.#rank !== reply.rank) this.#log.info({ rank: reply.rank, previous: this.#rank }, 'registered');
    this.#rank = reply.rank;
    this.events.emit('registered', { rank: reply.rank, sentAt });
    this.refreshSoon();
    return reply.rank;
  }

  /** One heartbeat: whether the reference server counts us alive and still knows us. */
  async heartbeat(): Promise<RefHeartbeatReply> {
    if (this.server === undefined || this.#rank === undefined) throw new RangeError('register before heartbeating');
    const sentAt = monotonicNow();
    const reply = (await this.#ask('ref.heartbeat.request', { server: this.server, rank: this.#rank })) as RefHeartbeatReply;
    if (!reply.known) {
      this.#log.warn({ rank: this.#rank }, 'the reference server does not know us (any more): registering again');
      this.#rank = undefined;
    }
    this.events.emit('heartbeat', { sentAt, alive: reply.alive, known: reply.known });
    return reply;
  }

  /** Reads the full list once and merges it into the cache. */
  async refresh(): Promise<void> {
    const token = this.#directory.beginList();
    let reply: RefServersReply;
    try {
      reply = (await this.#ask('ref.servers.request', {})) as RefServersReply;
    } catch (error) {
      this.#directory.abandonList(token);
      throw error;
    }
    this.#emitChanges(this.#directory.applyList(token, reply));
  }

  /**
   * An `up` event: the server (re)registered, maybe at new addresses (a restarted server's direct
   * endpoint is on a new port), which events do not carry: the list is read again, at most every
   * ADDRESS_REFRESH_MS, as anyone can publish events.
   */
  #readAddressesSoon(): void {
    if (this.#addressRefresh !== undefined || this.#state === 'stopped') return;
    const wait = Math.max(0, this.#lastAddressRefresh + ADDRESS_REFRESH_MS - monotonicNow());
    this.#addressRefresh = setTimeout(() => {
      this.#addressRefresh = undefined;
      this.#lastAddressRefresh = monotonicNow();
      this.refreshSoon();
    }, wait);
  }

  /** Asks the refresh loop for a list soon (coalesced). */
  refreshSoon(): void {
    this.#refreshWanted = true;
    this.#wakeRefresh?.();
  }

  async #ask<T extends MessageType>(type: T, body: BodyOf<T>): Promise<AnyEnvelope['body']> {
    try {
      const reply = await requestIdempotent(this.#client, this.#refService, type, body, { timeout: this.#requestTimeoutMs });
      this.#setRefAvailable(true);
      return reply.body;
    } catch (error) {
      const failure = CorreioError.from(error);
      if (['TIMEOUT', 'UNAVAILABLE', 'UNKNOWN_SERVICE'].includes(failure.code)) this.#setRefAvailable(false);
      else this.#setRefAvailable(true); // it answered, with an error
      throw failure;
    }
  }

  #setRefAvailable(available: boolean): void {
    if (this.#refAvailable === available) return;
    this.#refAvailable = available;
    if (available) this.#log.info('the reference server is reachable');
    else this.#log.warn('the reference server is unreachable; serving the cached server list');
    this.events.emit('ref', { available });
  }

  #emitChanges(changes: readonly MembershipChange[]): void {
    for (const change of changes) this.events.emit('membership', change);
  }

  async #heartbeatLoop(server: string): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const started = monotonicNow();
      try {
        if (this.#rank === undefined) await this.register();
        else if (!(await this.heartbeat()).known) continue; // register at once
      } catch (error) {
        if (!signal.aborted) this.#log.debug({ err: error, server }, this.#rank === undefined ? 'registration failed' : 'heartbeat failed');
      }
      await sleep(started + this.#heartbeatIntervalMs - monotonicNow(), signal);
    }
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#abort.signal;
    this.#refreshWanted = true;
    while (!signal.aborted) {
      if (this.#refreshWanted) {
        this.#refreshWanted = false;
        try {
          await this.refresh();
        } catch (error) {
          if (!signal.aborted) this.#log.debug({ err: error }, 'server list request failed');
        }
      }
      if (signal.aborted || this.#refreshWanted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, this.#refreshIntervalMs);
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.#wakeRefresh = wake;
      });
      this.#wakeRefresh = undefined;
      this.#refreshWanted = true;
    }
  }

  async #receiveLoop(subscriber: Subscriber): Promise<void> {
    try {
      for await (const publication of subscriber) {
        // Anyone can publish on the proxy: one publication that breaks its handling must not end
        // the membership loop for good.
        try {
          const envelope = publication.envelope;
          if (publication.topic === MEMBERSHIP_TOPIC) {
            if (envelope.type === 'ref.membership') {
              this.#emitChanges(this.#directory.applyEvent(envelope.body));
              if (envelope.body.state === 'up') this.#readAddressesSoon();
            }
            continue;
          }
          this.events.emit('publication', publication);
        } catch (error) {
          this.#publicationFailures += 1;
          this.#log.error({ err: error, topic: publication.topic }, 'a publication could not be handled; skipped');
        }
      }
    } catch (error) {
      if (!this.#abort.signal.aborted) this.#log.error({ err: error }, 'subscriber loop failed');
    }
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}
