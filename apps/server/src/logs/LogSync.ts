import type { BodyOf, LogRecord, MessageType } from '@correio/protocol';
import type { Logger } from 'pino';
import type { LogStore } from './LogStore.js';

export interface LogSyncOptions {
  readonly store: LogStore;
  /** The live peers (server ids, this one excluded), as known now. */
  readonly peers: () => readonly string[];
  /** Sends a request to `srv.<peer>`; resolves with the reply body, rejects on an error reply or a time-out. */
  readonly request: <T extends LogPeerRequest>(peer: string, type: T, body: BodyOf<T>) => Promise<BodyOf<ReplyTypeOf<T>>>;
  readonly logger: Logger;
  /** Ms between anti-entropy rounds (one random peer each). Default 30,000. */
  readonly intervalMs?: number;
  /** Ms between retention sweeps. Default 60,000. */
  readonly pruneIntervalMs?: number;
}

type LogPeerRequest = 'logs.copy.request' | 'logs.digest.request' | 'logs.query.request';
type ReplyTypeOf<T extends LogPeerRequest> = Extract<MessageType, `${T extends `${infer Base}.request` ? Base : never}.reply`>;

export interface LogSyncStats {
  copiesFailed: number;
  rounds: number;
  roundsFailed: number;
  /** Lines fetched from peers that this store did not hold. */
  fetched: number;
  pruned: number;
}

/** Digest pages read from one peer per round, at most. */
const MAX_DIGEST_PAGES = 20;
/** Lines fetched per round, at most: a long outage heals over several rounds. */
const MAX_FETCH_PER_ROUND = 50_000;
/** Query pages read for one minute per round, at most (a page examines up to 20,000 entries). */
const MAX_PAGES_PER_MINUTE = 100;
/** Retention batches per sweep, at most. */
const MAX_PRUNE_BATCHES = 40;

/**
 * Keeps this server's log lines converging with its peers': copies what programs ship here to
 * every live peer (push), and each round compares per-minute digests with one random peer and
 * fetches the minutes that differ (pull) — lines are immutable and identified, so the union is
 * the answer and no ordering or consensus is needed. Also runs the retention sweeps.
 */
export class LogSync {
  readonly #options: LogSyncOptions;
  readonly stats: LogSyncStats = { copiesFailed: 0, rounds: 0, roundsFailed: 0, fetched: 0, pruned: 0 };
  #syncTimer: NodeJS.Timeout | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(options: LogSyncOptions) {
    this.#options = options;
  }

  /** Copies lines to every live peer; resolves once each answered or failed (anti-entropy repairs a miss). */
  async copyToPeers(lines: readonly LogRecord[]): Promise<void> {
    const peers = this.#options.peers();
    await Promise.all(
      peers.map((peer) =>
        this.#options.request(peer, 'logs.copy.request', { lines: lines as [LogRecord, ...LogRecord[]] }).catch(() => {
          this.stats.copiesFailed++;
        }),
      ),
    );
  }

  /** Syncs with every live peer once (catch-up after a restart), then starts the rounds and sweeps. */
  start(): void {
    this.#stopped = false;
    this.#run(async () => {
      for (const peer of this.#options.peers()) await this.#syncWith(peer);
    });
    const round = () => {
      const peers = this.#options.peers();
      const peer = peers[Math.floor(Math.random() * peers.length)];
      if (peer !== undefined) this.#run(() => this.#syncWith(peer));
    };
    this.#syncTimer = setInterval(round, this.#options.intervalMs ?? 30_000).unref();
    this.#pruneTimer = setInterval(() => this.#run(() => this.#prune()), this.#options.pruneIntervalMs ?? 60_000).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#syncTimer);
    clearInterval(this.#pruneTimer);
    await this.#running;
  }

  /** Runs one piece of work unless another is under way (the next tick tries again). */
  #run(work: () => Promise<void>): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = work()
      .catch((error: unknown) => this.#options.logger.debug({ err: error }, 'log sync work failed'))
      .finally(() => (this.#running = undefined));
  }

  /** Fetches from `peer` the minutes whose count or hash differ from this store's. */
  async #syncWith(peer: string): Promise<void> {
    const { store, request } = this.#options;
    this.stats.rounds++;
    try {
      let since = store.floor;
      let fetched = 0;
      for (let page = 0; page < MAX_DIGEST_PAGES && fetched < MAX_FETCH_PER_ROUND && !this.#stopped; page++) {
        const theirs = await request(peer, 'logs.digest.request', { since });
        for (const bucket of theirs.buckets) {
          const own = store.bucket(bucket.minute);
          if (own !== undefined && own.count === bucket.count && own.hash === bucket.hash) continue;
          if (bucket.minute * 60_000 < Math.max(store.floor, theirs.floor)) continue;
          fetched += await this.#fetchMinute(peer, bucket.minute, MAX_FETCH_PER_ROUND - fetched);
          if (fetched >= MAX_FETCH_PER_ROUND) break;
        }
        if (theirs.next === undefined) break;
        since = theirs.next;
      }
      this.stats.fetched += fetched;
      if (fetched > 0) this.#options.logger.info({ peer, fetched }, 'log lines fetched from a peer');
    } catch (error) {
      this.stats.roundsFailed++;
      this.#options.logger.debug({ err: error, peer }, 'log sync with a peer failed');
    }
  }

  /** Stores the lines of one minute `peer` holds (paged), at most about `budget`; returns how many were new. */
  async #fetchMinute(peer: string, minute: number, budget: number): Promise<number> {
    let stored = 0;
    let examined = 0;
    let after: string | undefined;
    let pages = 0;
    // Bounded by pages too: a peer that keeps answering empty pages with a cursor ends here.
    do {
      const page = await this.#options.request(peer, 'logs.query.request', { since: minute * 60_000, until: (minute + 1) * 60_000, limit: 1000, ...(after === undefined ? {} : { after }) });
      if (page.lines.length > 0) stored += (await this.#options.store.store(page.lines)).stored;
      examined += page.lines.length;
      after = page.next;
    } while (after !== undefined && examined < budget && ++pages < MAX_PAGES_PER_MINUTE && !this.#stopped);
    return stored;
  }

  async #prune(): Promise<void> {
    for (let batch = 0; batch < MAX_PRUNE_BATCHES; batch++) {
      const deleted = await this.#options.store.prune();
      this.stats.pruned += deleted;
      if (deleted === 0) return;
    }
  }
}
