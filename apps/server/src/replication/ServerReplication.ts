import type { TimeSource } from '@correio/clocks';
import { CorreioError, UnavailableError } from '@correio/codec';
import type { Operation } from '@correio/protocol';
import { brokerTransport, peerTransport, Replicator, REPLICA_TOPIC, type PeerRequest, type PeerStatus, type ReplicaLog, type ReplicatorStats, type SyncReport } from '@correio/replication';
import { ClockStamp, type ActionContext, type Middleware, type Service } from '@correio/service';
import { Subscriber, type CurveClientOptions } from '@correio/transport';
import type { Logger } from 'pino';
import type { OperationClock } from '../OperationClock.js';
import type { ChatStore } from '../store/ChatStore.js';
import { OriginAdmission } from './OriginAdmission.js';
import { ReplicaHandlers } from './ReplicaHandlers.js';
import { tracedTransport } from './tracedTransport.js';

export interface ServerReplicationOptions {
  /** This server's id: the origin of its operations, its broker service `srv.<id>`. */
  readonly id: string;
  readonly store: ChatStore;
  /** Merges the clocks of every operation learnt from a peer. */
  readonly clock: OperationClock;
  /**
   * The live peers (server ids; this one is ignored if listed), as known now. Without it the
   * server does not replicate: it neither hears `replica/` nor syncs (a single server). It still
   * answers the replica requests, so others can read from it.
   */
  readonly peers?: () => readonly string[];
  /**
   * Every server the membership lists, alive or not: replicated operations are stored only from
   * these origins (and this server's own, and origins the store already holds). Defaults to `peers`.
   */
  readonly members?: () => readonly string[];
  /** The proxy's XPUB side, where the `replica/` topic is heard. */
  readonly proxySub: string;
  /** CURVE keys of the subscriber socket (the proxy's public key and this server's pair); none when absent. */
  readonly curve?: CurveClientOptions;
  readonly logger: Logger;
  /** The physical clock of envelope times. Defaults to the system clock. */
  readonly time?: TimeSource;
  /** Ms between anti-entropy rounds (one random peer each). Default 2000. */
  readonly antiEntropyIntervalMs?: number;
  /** Ms a digest or fetch request to a peer may take. Default 2000. */
  readonly requestTimeoutMs?: number;
  /** Ms a write waits for its `k` peer confirmations (`confirm`). Default 2000. */
  readonly ackTimeoutMs?: number;
  /** Told the origins of refused operations (not listed): the membership list is read again. */
  readonly onUnlisted?: (origins: readonly string[]) => void;
  /** How requests reach a peer's `srv.<peer>` (PeerLinks: directly when it can). Default: the service's broker client. */
  readonly request?: PeerRequest;
}

/** What catching up with the peers did, before this server reported ready. */
export interface CatchUpReport {
  /** Operations fetched that this store did not hold. */
  readonly fetched: number;
  readonly ms: number;
  /** The peers asked. */
  readonly peers: readonly string[];
  /** The peers that could not be reached; the anti-entropy rounds retry them. */
  readonly unreachable: readonly string[];
}

export type ReplicationState = 'created' | 'catching-up' | 'running' | 'off' | 'stopped';

export interface ReplicationCounters {
  /** `replica.op` publications heard (echoes of this server's own included). */
  liveReceived: number;
  /** Of them, operations this store did not hold yet. */
  liveApplied: number;
  /** Live operations whose apply failed (they are fetched again by the repair path). */
  liveApplyFailures: number;
  /** Sequence gaps the subscriber reported on the replication topic. */
  subscriberGaps: number;
  /** Operations fetched from peers (catch-up, gap repair, anti-entropy). */
  fetched: number;
  syncs: number;
  syncFailures: number;
  /** Writes confirmed by k peers, and writes whose confirmation failed or timed out (`--ack-peers`). */
  acksConfirmed: number;
  acksFailed: number;
  /** Operations whose HLC was too far ahead to merge into this server's clock (stored all the same). */
  clockDriftSkipped: number;
  /** Replicated operations dropped, never stored, because the membership does not list their origin. */
  unknownOriginDropped: number;
}

export interface ReplicationHealth {
  readonly state: ReplicationState;
  readonly caughtUp: boolean;
  readonly catchUp: CatchUpReport | undefined;
  /** Per live peer, from its latest digest: `ahead` is its lag behind this server, `behind` ours behind it. */
  readonly peers: readonly PeerStatus[];
  readonly counters: Readonly<ReplicationCounters>;
  readonly replicator: Readonly<ReplicatorStats> | undefined;
  /**
   * Own writes held back after a crash until every listed server answered (send-ahead): `unresolved`
   * while they are, and the servers not heard from yet.
   */
  readonly sendAhead: { readonly unresolved: boolean; readonly waitingFor: readonly string[] };
}

/** Live applies in flight at once; past it the subscriber stops reading (the proxy then drops, and the gap is repaired). */
const MAX_PENDING_APPLIES = 4_096;

/**
 * The replication of one chat server: every server holds every operation.
 *
 * - Live path: operations published on `replica/` by peers are applied as they arrive (concurrent
 *   applies share one durable commit), echoes of this server's own are dropped.
 * - Repair path: a sequence gap (reported by the subscriber, or seen in an origin's seq numbers)
 *   triggers a sync; every `antiEntropyIntervalMs` one random peer's digest is compared and what it
 *   holds beyond this store's high-water marks is fetched. `handlers` answer the peers' requests.
 * - Catch-up: `start` syncs with every peer before the server reports ready; until then `gate`
 *   refuses chat requests with a retryable UNAVAILABLE, so no client reads a stale store or writes
 *   against users and channels it has not learnt yet.
 * - Acknowledgement policy: `confirm(op, k)` pushes an operation to the peers and resolves once k
 *   of them applied it durably.
 *
 * Only the origin announces an operation to readers (`chat.publication`, `chat.direct`); a replica
 * that learns one only stores it, so subscribers never get an operation twice from two servers.
 */
export class ServerReplication {
  /** The `replica.*.request` handlers, to serve next to the chat handlers on `srv.<id>`. */
  readonly handlers: ReplicaHandlers;
  /** Service middleware: chat requests wait (UNAVAILABLE, retryable) until the catch-up is done. */
  readonly gate: Middleware<ActionContext>;
  readonly #options: ServerReplicationOptions;
  readonly #log: Logger;
  readonly #replicaLog: ReplicaLog;
  readonly #admission: OriginAdmission;
  readonly #counters: ReplicationCounters = {
    liveReceived: 0,
    liveApplied: 0,
    liveApplyFailures: 0,
    subscriberGaps: 0,
    fetched: 0,
    syncs: 0,
    syncFailures: 0,
    acksConfirmed: 0,
    acksFailed: 0,
    clockDriftSkipped: 0,
    unknownOriginDropped: 0,
  };
  readonly #counted = new Set<(counter: keyof ReplicationCounters, delta: number) => void>();
  readonly #pending = new Set<Promise<unknown>>();
  #state: ReplicationState = 'created';
  #replicator: Replicator | undefined;
  #subscriber: Subscriber | undefined;
  #receiving: Promise<void> | undefined;
  #catchUp: CatchUpReport | undefined;
  /** Learning back own operations sent ahead of a lost commit (SendAheadFence); one at a time. */
  #resolving: Promise<void> | undefined;
  #resolveTimer: NodeJS.Timeout | undefined;
  #wakeResolver: (() => void) | undefined;
  /** The listed servers the resolution has not heard from yet. */
  #waitingFor: readonly string[] = [];

  constructor(options: ServerReplicationOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'replication' });
    this.#admission = new OriginAdmission({
      self: options.id,
      members: options.members ?? options.peers ?? (() => []),
      held: (origin) => options.store.highWaterMark(origin) > 0,
      logger: this.#log,
      onRefused: (count) => this.#count('unknownOriginDropped', count),
      ...(options.onUnlisted ? { onUnlisted: options.onUnlisted } : {}),
      heardOf: (origin) => options.peers?.().includes(origin) ?? false,
    });
    this.#replicaLog = this.#observedLog(options.store, options.clock);
    this.handlers = new ReplicaHandlers(options.id, this.#replicaLog, {
      onApplied: (ops) => this.#replicator?.noticeGaps(ops),
      unknownOrigins: (ops) => this.#admission.unknownOrigins(ops),
      onRefused: (count, origins) => this.#admission.refused(count, origins, 'replica.apply.request'),
    });
    this.gate = (next) => (ctx, params) => {
      if ((this.#state === 'created' || this.#state === 'catching-up') && (ctx.action.startsWith('chat.') || ctx.action.startsWith('config.'))) {
        return Promise.reject(
          new UnavailableError(`server ${options.id} is catching up with its peers and serves chat requests once it holds what they hold; retry`, {
            data: { server: options.id, reason: 'catching_up' },
          }),
        );
      }
      return next(ctx, params);
    };
  }

  /** Calls `listener` whenever a counter grows (for Prometheus counters); returns the unsubscribe function. */
  onCount(listener: (counter: keyof ReplicationCounters, delta: number) => void): () => void {
    this.#counted.add(listener);
    return () => this.#counted.delete(listener);
  }

  get state(): ReplicationState {
    return this.#state;
  }

  /** Serving chat requests: caught up with the peers, or not replicating at all. */
  get caughtUp(): boolean {
    return this.#state === 'running' || this.#state === 'off';
  }

  /** The live peers, this server excluded. */
  peers(): string[] {
    return (this.#options.peers?.() ?? []).filter((peer) => peer !== this.#options.id);
  }

  /**
   * Starts replicating through a started service (its broker client and its publisher): hears
   * `replica/`, catches up with every live peer, then opens the gate and starts the anti-entropy
   * rounds. Resolves with what the catch-up did.
   */
  async start(service: Service): Promise<CatchUpReport> {
    if (this.#state !== 'created') throw new Error(`replication cannot start: it is ${this.#state}`);
    if (this.#options.peers === undefined) {
      if (this.#options.store.sendAheadUnresolved) {
        // No peers to ask, in this run: whatever an earlier run sent ahead stays with those servers.
        this.#log.warn('this store may lack operations an earlier run sent to its peers; replication is off, so they are not learnt back');
        this.#options.store.sendAheadResolved();
      }
      this.#state = 'off';
      this.#catchUp = { fetched: 0, ms: 0, peers: [], unreachable: [] };
      return this.#catchUp;
    }
    this.#state = 'catching-up';
    const { id, antiEntropyIntervalMs = 2_000, requestTimeoutMs = 2_000 } = this.#options;
    const replicator = new Replicator({
      self: id,
      log: this.#replicaLog,
      transport: tracedTransport(this.#options.request ? peerTransport(this.#options.request, service) : brokerTransport(service.client.transport, service)),
      peers: () => this.peers(),
      antiEntropyInterval: antiEntropyIntervalMs,
      requestTimeout: requestTimeoutMs,
      onProblem: (message, error) => this.#log.debug({ err: error }, message),
      onSync: (report) => this.#onSync(report),
    });
    this.#replicator = replicator;

    // Heard before the catch-up, so nothing published meanwhile falls between the two.
    const subscriber = new Subscriber({
      ...(this.#options.curve ? { curve: this.#options.curve } : {}),
      stamp: new ClockStamp(id, { clock: this.#options.clock.lamport, ...(this.#options.time ? { time: this.#options.time } : {}) }),
      logger: this.#log,
      topics: [REPLICA_TOPIC],
    });
    subscriber.events.on('gap', (gap) => {
      this.#count('subscriberGaps');
      this.#log.info({ publisher: gap.publisher, missed: gap.missed }, 'replication publications lost; repairing');
      replicator.repairSoon();
    });
    subscriber.connect(this.#options.proxySub);
    this.#subscriber = subscriber;
    this.#receiving = this.#receive(subscriber, replicator);

    const peers = this.peers();
    const started = performance.now();
    const fetchedBefore = this.#counters.fetched;
    const unreachable = await replicator.catchUp();
    const report: CatchUpReport = { fetched: this.#counters.fetched - fetchedBefore, ms: Math.round(performance.now() - started), peers, unreachable };
    this.#catchUp = report;
    if (this.#state !== 'catching-up') return report; // stopped meanwhile
    const line = `caught up with ${peers.length - unreachable.length} of ${peers.length} peers: fetched ${report.fetched} operations in ${report.ms} ms`;
    if (unreachable.length > 0) this.#log.warn({ ...report, ops: this.#options.store.digest().ops }, `${line}; unreachable: ${unreachable.join(', ')} (anti-entropy retries them)`);
    else this.#log.info({ ...report, ops: this.#options.store.digest().ops }, line);
    this.#state = 'running';
    replicator.start();
    if (this.#options.store.sendAheadUnresolved) this.resolveSentAhead(peers.filter((peer) => !unreachable.includes(peer)));
    return report;
  }

  /**
   * The store may lack own operations that peers hold (sent ahead of a commit that a crash or a
   * failure lost): asks every server the membership lists — alive or not, until the reference
   * server stops listing it — for this server's operations past its high-water mark, retrying each
   * second, and only then lets the store commit own operations again. `answered` peers were synced
   * that way already (the catch-up does).
   */
  resolveSentAhead(answered: readonly string[] = []): void {
    if (this.#resolving || !this.#replicator || this.#state === 'stopped') return;
    const replicator = this.#replicator;
    const store = this.#options.store;
    const asked = new Set(answered);
    const started = performance.now();
    this.#log.warn('operations of this server may be held by peers only (sent ahead of a commit that did not finish); learning them back before writing');
    const round = async (): Promise<boolean> => {
      const listed = this.#options.members?.() ?? this.#options.peers?.() ?? [];
      // An empty list is an unread one: without knowing who may hold them, nothing is resolved.
      if (listed.length === 0 && this.peers().length === 0) return false;
      const waiting = [...new Set([...listed, ...this.peers()])].filter((peer) => peer !== this.#options.id && !asked.has(peer));
      this.#waitingFor = waiting;
      for (const peer of waiting) {
        if (this.#state === 'stopped') return false;
        if (await replicator.syncOwn(peer)) asked.add(peer);
      }
      this.#waitingFor = waiting.filter((peer) => !asked.has(peer));
      return this.#waitingFor.length === 0;
    };
    this.#resolving = (async () => {
      // Bounded by stop(): each pass waits a second, and stop() wakes and ends it.
      while (this.#state !== 'stopped' && !(await round())) {
        await new Promise<void>((resolve) => {
          this.#wakeResolver = resolve;
          this.#resolveTimer = setTimeout(resolve, 1_000);
        });
      }
      if (this.#state === 'stopped') return;
      store.sendAheadResolved();
      this.#log.info({ servers: [...asked], ms: Math.round(performance.now() - started) }, 'learnt back the operations this server sent ahead; writing again');
    })().finally(() => {
      this.#resolving = undefined;
    });
  }

  /**
   * The "wait for k peers" acknowledgement policy: pushes `op` to the live peers and resolves once
   * `k` of them applied it durably. Rejects with a retryable TIMEOUT or UNAVAILABLE otherwise; the
   * operation stays committed here, and a retry with the same request id waits for it again.
   */
  async confirm(op: Operation, k: number): Promise<void> {
    const replicator = this.#replicator;
    if (!replicator || this.#state === 'stopped') {
      throw new UnavailableError(`server ${this.#options.id} stored the write but is not replicating; retry`, { data: { server: this.#options.id } });
    }
    try {
      await replicator.replicate([op], k, this.#options.ackTimeoutMs ?? 2_000);
      this.#count('acksConfirmed');
    } catch (error) {
      this.#count('acksFailed');
      throw CorreioError.from(error);
    }
  }

  /**
   * Syncs with every live peer now (digest, then what it holds beyond this store, this server's own
   * operations included): afterwards this store holds whatever any reachable peer held.
   */
  async syncWithPeers(): Promise<void> {
    if (this.#replicator && this.#state === 'running') await this.#replicator.catchUp();
  }

  health(): ReplicationHealth {
    return {
      state: this.#state,
      caughtUp: this.caughtUp,
      catchUp: this.#catchUp,
      peers: this.#replicator?.peers() ?? this.peers().map((peer) => ({ peer, lastSync: 0, behind: 0, ahead: 0, hash: '' })),
      counters: { ...this.#counters },
      replicator: this.#replicator?.stats,
      sendAhead: { unresolved: this.#options.store.sendAheadUnresolved, waitingFor: this.#options.store.sendAheadUnresolved ? this.#waitingFor : [] },
    };
  }

  /** Stops the anti-entropy rounds and the live path, and waits for applies under way. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearTimeout(this.#resolveTimer);
    this.#wakeResolver?.();
    await this.#resolving;
    await this.#replicator?.stop();
    await this.#subscriber?.close();
    await this.#receiving;
    await Promise.allSettled([...this.#pending]);
  }

  async #receive(subscriber: Subscriber, replicator: Replicator): Promise<void> {
    try {
      for await (const publication of subscriber) {
        if (publication.envelope.type !== 'replica.op') continue;
        const op = publication.envelope.body;
        this.#count('liveReceived');
        if (this.#admission.admit([op], 'replica.op').length === 0) continue;
        // Applies overlap, so they share commits; a bound keeps a flood from growing memory.
        while (this.#pending.size >= MAX_PENDING_APPLIES) await Promise.race(this.#pending);
        const applying = replicator
          .receive(op)
          .then((added) => {
            if (added > 0) this.#count('liveApplied', added);
          })
          .catch((error: unknown) => {
            if (this.#state === 'stopped') return;
            this.#count('liveApplyFailures');
            this.#log.warn({ err: error, op: op.op }, 'a replicated operation could not be applied; the repair path fetches it again');
            replicator.repairSoon(op.op.origin);
          })
          .finally(() => this.#pending.delete(applying));
        this.#pending.add(applying);
      }
    } catch (error) {
      if (this.#state !== 'stopped') this.#log.error({ err: error }, 'the replication subscriber failed; anti-entropy still repairs');
    }
  }

  #onSync(report: SyncReport): void {
    this.#count('syncs');
    if (report.fetched > 0) this.#count('fetched', report.fetched);
    if (!report.ok) {
      this.#count('syncFailures');
      const error = report.error instanceof Error ? report.error.message : String(report.error);
      this.#log.debug({ peer: report.peer, error }, 'sync with a peer failed');
    } else if (report.fetched > 0) {
      this.#log.info({ peer: report.peer, fetched: report.fetched, ms: Math.round(report.ms) }, 'fetched missing operations from a peer');
    }
  }

  #count(counter: keyof ReplicationCounters, delta = 1): void {
    this.#counters[counter] += delta;
    for (const listener of this.#counted) listener(counter, delta);
  }

  /** The store as replication reads and writes it, merging the clocks of every operation it learns. */
  #observedLog(store: ChatStore, clock: OperationClock): ReplicaLog {
    return {
      highWaterMark: (origin) => store.highWaterMark(origin),
      opsFrom: (origin, from, limit, to) => store.opsFrom(origin, from, limit, to),
      digest: () => store.digest(),
      // Every path that stores replicated operations (live, apply requests, fetches) comes through here.
      apply: async (offered) => {
        const ops = this.#admission.admit(offered, 'replica.fetch');
        const added = await store.apply(ops);
        for (const op of ops) {
          if (!clock.observe(op)) {
            this.#count('clockDriftSkipped');
            if (this.#counters.clockDriftSkipped === 1) {
              this.#log.warn({ op: op.op, hlc: op.hlc }, 'a replicated operation is stamped further ahead than the maximum clock offset; stored, but not merged into this clock');
            }
          }
        }
        return added;
      },
    };
  }
}
