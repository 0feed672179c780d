import { CorreioError, TimeoutError, UnavailableError } from '@correio/codec';
import type { Operation, ReplicaDigestReply } from '@correio/protocol';
import { ApplyBatcher } from './ApplyBatcher.js';
import type { PeerTransport } from './PeerTransport.js';
import type { ReplicaLog } from './ReplicaLog.js';

export interface ReplicatorOptions {
  /** This server's id: the origin of the operations it commits. */
  readonly self: string;
  readonly log: ReplicaLog;
  readonly transport: PeerTransport;
  /** The live peers (server ids, this one excluded), as discovery knows them now. */
  readonly peers: () => readonly string[];
  /** Ms between anti-entropy rounds with one random peer. Defaults to 2000. */
  readonly antiEntropyInterval?: number;
  /** Ms a peer request may take. Defaults to 2000. */
  readonly requestTimeout?: number;
  /** Operations per fetch. Defaults to 500. */
  readonly fetchBatch?: number;
  /** Where repair problems are reported; quiet by default. */
  readonly onProblem?: (message: string, error?: unknown) => void;
  /** Told the outcome of every sync with a peer (catch-up, gap repair, anti-entropy): for metrics. */
  readonly onSync?: (report: SyncReport) => void;
  /**
   * `replica.apply.request` batches in flight to one peer at once (`replicate`); operations
   * replicated meanwhile share the next batch. Defaults to 4.
   */
  readonly applyPipeline?: number;
}

/** One sync with one peer: its digest read, and what was fetched from it. */
export interface SyncReport {
  readonly peer: string;
  readonly ok: boolean;
  /** Operations fetched that this server did not hold. */
  readonly fetched: number;
  readonly ms: number;
  readonly error?: unknown;
}

/** What this server knows of one peer, from its latest digest. */
export interface PeerStatus {
  readonly peer: string;
  /** When its digest was last read (ms since epoch); 0 never. */
  readonly lastSync: number;
  /** Operations the peer held that this server did not, at that time. */
  readonly behind: number;
  /** Operations this server held that the peer did not, at that time: the peer's replication lag. */
  readonly ahead: number;
  readonly hash: string;
  readonly error?: string;
}

export interface ReplicatorStats {
  liveApplied: number;
  echoesDropped: number;
  gapsDetected: number;
  fetched: number;
  syncRounds: number;
  syncFailures: number;
}

/**
 * Keeps this server's operation log converging with its peers': applies operations published on
 * the replication topic (live path), notices gaps by per-origin sequence numbers and repairs them
 * by fetching the missing ranges (repair path), and syncs with one random peer at every interval
 * (anti-entropy), so a missed publication, a restart or a partition heals without help.
 */
export class Replicator {
  readonly #options: Required<Omit<ReplicatorOptions, 'onProblem' | 'onSync'>> & Pick<ReplicatorOptions, 'onProblem' | 'onSync'>;
  readonly #status = new Map<string, PeerStatus>();
  /** Per peer: confirmations batched and pipelined (`replicate`). */
  readonly #appliers = new Map<string, ApplyBatcher>();
  readonly #stats: ReplicatorStats = { liveApplied: 0, echoesDropped: 0, gapsDetected: 0, fetched: 0, syncRounds: 0, syncFailures: 0 };
  #timer: NodeJS.Timeout | undefined;
  #repairQueued = false;
  /** Syncs run one at a time: two concurrent fetches of one range would only waste work. */
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(options: ReplicatorOptions) {
    this.#options = { antiEntropyInterval: 2000, requestTimeout: 2000, fetchBatch: 500, applyPipeline: 4, ...options };
  }

  get stats(): Readonly<ReplicatorStats> {
    return { ...this.#stats };
  }

  /** What is known of each live peer; `ahead` is that peer's replication lag behind this server. */
  peers(): PeerStatus[] {
    return this.#options.peers().map((peer) => this.#status.get(peer) ?? { peer, lastSync: 0, behind: 0, ahead: 0, hash: '' });
  }

  /**
   * How many peers this replicator keeps a status and an apply batcher for: servers of the view as
   * it was when they were recorded; each anti-entropy round drops those no longer in it.
   */
  get tracked(): { readonly statuses: number; readonly appliers: number } {
    return { statuses: this.#status.size, appliers: this.#appliers.size };
  }

  /** Starts the anti-entropy rounds. */
  start(): void {
    this.#stopped = false;
    const tick = () => {
      if (this.#stopped) return;
      const peers = this.#options.peers();
      this.#forgetDeparted(peers);
      const peer = peers[Math.floor(Math.random() * peers.length)];
      void (peer ? this.#enqueue(() => this.#syncWith(peer)) : Promise.resolve()).finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#options.antiEntropyInterval).unref();
      });
    };
    this.#timer = setTimeout(tick, this.#options.antiEntropyInterval).unref();
  }

  /** Stops the rounds and waits for a sync under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#chain;
  }

  /**
   * Syncs with every live peer once: afterwards this server holds every operation that any
   * reachable peer held when asked. Run before reporting ready. Resolves with the peers that
   * could not be reached (the anti-entropy rounds retry them).
   *
   * Unlike the anti-entropy rounds, catch-up also fetches this server's own operations that peers
   * hold beyond its high-water mark: that happens only when its store lost data (restored from an
   * old backup, or started empty under an old id), and it must have them back before it commits
   * anything, or it would issue sequence numbers its peers already hold for other operations.
   */
  async catchUp(): Promise<string[]> {
    const unreachable: string[] = [];
    for (const peer of this.#options.peers()) {
      if (!(await this.syncOwn(peer))) unreachable.push(peer);
    }
    return unreachable;
  }

  /**
   * Syncs with one peer, this server's own operations included (as in catchUp); resolves whether
   * the peer answered. Used to learn back operations this server sent ahead of a commit it lost.
   */
  syncOwn(peer: string): Promise<boolean> {
    return this.#enqueue(() => this.#syncWith(peer, true));
  }

  /** Publishes an operation this server committed (the live path). */
  publish(op: Operation): void {
    this.#options.transport.publish(op);
  }

  /**
   * Applies an operation that arrived on the replication topic; resolves with 1 when it was new
   * here, 0 for a duplicate or this server's own echo. Calls may overlap (the log batches
   * concurrent applies into one durable commit); each one checks for a gap once its op is applied.
   */
  async receive(op: Operation): Promise<number> {
    if (op.op.origin === this.#options.self) {
      this.#stats.echoesDropped++;
      return 0;
    }
    // Already held (an acknowledged write's replica.apply, or a fetch, got here first): no write
    // transaction needed. Nothing is confirmed to anyone on this path, so a read suffices.
    if (op.op.seq <= this.#options.log.highWaterMark(op.op.origin)) return 0;
    const added = await this.#options.log.apply([op]);
    this.#stats.liveApplied += added;
    this.noticeGaps([op]);
    return added;
  }

  /**
   * Checks operations just applied (live, or in a `replica.apply.request` batch, which is the live
   * path when writes wait for confirmations): one held past its origin's contiguous high-water mark
   * means earlier ones were missed, so a repair starts now rather than at the next anti-entropy round.
   */
  noticeGaps(ops: readonly Operation[]): void {
    for (const op of ops) {
      if (op.op.seq > this.#options.log.highWaterMark(op.op.origin)) {
        this.#stats.gapsDetected++;
        this.repairSoon(op.op.origin);
        return;
      }
    }
  }

  /** A gap was seen (a sequence gap on the topic, or one found by receive): sync soon, once. */
  repairSoon(origin?: string): void {
    if (this.#repairQueued || this.#stopped) return;
    this.#repairQueued = true;
    void this.#enqueue(async () => {
      this.#repairQueued = false;
      const peers = this.#options.peers();
      // The origin holds all of its own operations, and it has just published, so it is alive
      // even if the peer list does not know it yet; otherwise any peer may have them.
      const first = origin !== undefined && origin !== this.#options.self ? [origin] : [];
      for (const peer of [...first, ...peers.filter((p) => p !== origin)]) {
        if (await this.#syncWith(peer)) return true;
      }
      return false;
    });
  }

  /**
   * Pushes operations this server committed to every live peer and resolves once `k` of them have
   * applied them durably (the "wait for k peers" acknowledgement policy). Rejects with a retryable
   * error when fewer than `k` confirm in time, or fewer than `k` are live (the live ones still get
   * them); the operations stay committed locally either way.
   * Concurrent calls to one peer share `replica.apply.request` batches (ApplyBatcher).
   */
  async replicate(ops: readonly Operation[], k: number, timeout: number): Promise<string[]> {
    if (k <= 0) return [];
    const peers = this.#options.peers();
    if (peers.length < k) {
      // Too few to confirm, yet the live ones should have it now rather than at the next anti-entropy round.
      for (const peer of peers) this.#applierOf(peer).push(ops, timeout).catch((error: unknown) => this.#options.onProblem?.(`peer ${peer} did not take a replicated write`, error));
      throw new UnavailableError(`the write is stored on this server, but only ${peers.length} peers are live and ${k} must confirm it`, {
        data: { live: peers.length, required: k },
      });
    }
    return new Promise<string[]>((resolve, reject) => {
      const confirmed: string[] = [];
      let failed = 0;
      const timer = setTimeout(() => {
        reject(new TimeoutError(`the write is stored on this server; ${confirmed.length} of ${k} peers confirmed it in ${timeout} ms`, { data: { confirmed } }));
      }, timeout);
      for (const peer of peers) {
        this.#applierOf(peer).push(ops, timeout).then(
          () => {
            confirmed.push(peer);
            if (confirmed.length === k) {
              clearTimeout(timer);
              resolve([...confirmed]);
            }
          },
          (error: unknown) => {
            this.#options.onProblem?.(`peer ${peer} did not confirm a replicated write`, error);
            if (++failed > peers.length - k) {
              clearTimeout(timer);
              reject(new UnavailableError(`the write is stored on this server; only ${confirmed.length} of ${k} peers could confirm it`, { data: { confirmed } }));
            }
          },
        );
      }
    });
  }

  #applierOf(peer: string): ApplyBatcher {
    let applier = this.#appliers.get(peer);
    if (!applier) {
      applier = new ApplyBatcher((ops, timeout) => this.#options.transport.apply(peer, ops, timeout), { maxInFlight: this.#options.applyPipeline });
      this.#appliers.set(peer, applier);
    }
    return applier;
  }

  /**
   * Forgets servers no longer in the view, so the maps follow the membership instead of growing with
   * every server ever in it.
   * A batch already sent to a dropped peer still settles; the next one to it starts a new batcher.
   */
  #forgetDeparted(peers: readonly string[]): void {
    const view = new Set(peers);
    for (const peer of this.#status.keys()) if (!view.has(peer)) this.#status.delete(peer);
    for (const peer of this.#appliers.keys()) if (!view.has(peer)) this.#appliers.delete(peer);
  }

  /** Only servers in the view get a status: a repair from an origin that a publication named is not remembered. */
  #recordStatus(status: PeerStatus): void {
    if (this.#options.peers().includes(status.peer)) this.#status.set(status.peer, status);
  }

  #enqueue(work: () => Promise<boolean>): Promise<boolean> {
    const run = this.#chain.then(work, work);
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Reads a peer's digest and fetches every operation it holds beyond this server's high-water
   * marks; this server's own operations only when `ownToo` (catch-up).
   */
  async #syncWith(peer: string, ownToo = false): Promise<boolean> {
    const { log, transport, requestTimeout, fetchBatch } = this.#options;
    this.#stats.syncRounds++;
    const started = performance.now();
    let fetched = 0;
    let digest: ReplicaDigestReply;
    try {
      digest = await transport.digest(peer, requestTimeout);
      for (const [origin, theirs] of Object.entries(digest.hwm)) {
        if (origin === this.#options.self && !ownToo) continue;
        // Bounded: each round either advances the high-water mark or stops.
        const rounds = Math.ceil(Math.max(0, theirs - log.highWaterMark(origin)) / fetchBatch) + 2;
        for (let round = 0; round < rounds && log.highWaterMark(origin) < theirs; round++) {
          const before = log.highWaterMark(origin);
          const reply = await transport.fetch(peer, { origin, from_seq: before + 1, to_seq: theirs, limit: fetchBatch }, requestTimeout);
          if (reply.ops.length === 0) break;
          const added = await log.apply(reply.ops);
          fetched += added;
          this.#stats.fetched += added;
          if (log.highWaterMark(origin) === before) break;
        }
      }
    } catch (error) {
      this.#stats.syncFailures++;
      const message = error instanceof CorreioError ? `${error.code}: ${error.message}` : String(error);
      this.#recordStatus({ ...(this.#status.get(peer) ?? { peer, lastSync: 0, behind: 0, ahead: 0, hash: '' }), error: message });
      this.#options.onProblem?.(`sync with ${peer} failed`, error);
      this.#options.onSync?.({ peer, ok: false, fetched, ms: performance.now() - started, error });
      return false;
    }
    this.#recordStatus({ peer, lastSync: Date.now(), hash: digest.hash, ...difference(log.digest().hwm, digest.hwm) });
    this.#options.onSync?.({ peer, ok: true, fetched, ms: performance.now() - started });
    return true;
  }
}

/** Operations one side holds and the other does not, by comparing contiguous high-water marks. */
function difference(mine: Readonly<Record<string, number>>, theirs: Readonly<Record<string, number>>): { behind: number; ahead: number } {
  let behind = 0;
  let ahead = 0;
  for (const origin of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
    const delta = (theirs[origin] ?? 0) - (mine[origin] ?? 0);
    if (delta > 0) behind += delta;
    else ahead -= delta;
  }
  return { behind, ahead };
}
