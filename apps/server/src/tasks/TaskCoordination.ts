import type { Logger } from '@correio/observability';
import type { TaskJob, TaskSchedule } from '@correio/protocol';
import { FINISHED, timerOf } from './jobStates.js';
import type { TaskQueue } from './TaskQueue.js';
import type { TaskStore } from './TaskStore.js';

export interface TaskCoordinationOptions {
  readonly store: TaskStore;
  readonly queue: TaskQueue;
  /** True while this server is the elected coordinator. */
  readonly isCoordinator: () => boolean;
  /** The live peers, whose copies a new coordinator merges before it serves. */
  readonly peers: () => readonly string[];
  /** One page of a peer's jobs (`tasks.list.request` on `srv.<peer>`). */
  readonly listPeer: (peer: string, after: string | undefined) => Promise<{ jobs: TaskJob[]; next?: string }>;
  /** A peer's schedules, removed ones included (`tasks.schedules.request` on `srv.<peer>`). */
  readonly peerSchedules: (peer: string) => Promise<TaskSchedule[]>;
  /** Registers this server for the broker service `tasks` (startServing), or leaves it (stopServing). */
  readonly serve: (on: boolean) => Promise<void>;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Ms between looks at the election's outcome. Default 100 (requests check it themselves meanwhile). */
  readonly checkMs?: number;
  /** Ms between deletions of finished jobs past their TTL on a server that does not coordinate. Default 60 s. */
  readonly sweepMs?: number;
}

/** Pages of one peer's jobs a catch-up reads at most (1,000 jobs each). */
const MAX_PAGES = 10_000;

/**
 * Who runs the task queue (protocol README, revision 1.6): the elected coordinator, and only it.
 * When this server becomes the coordinator it first merges every live peer's copy of the jobs
 * (the newest version of each wins), so every change acknowledged by the previous coordinator —
 * which held on `replicas` servers, at least one of them live — is here, and only then serves the broker service `tasks`
 * and runs the timers. When it stops coordinating it leaves the service at once and answers its
 * long polls, and the broker holds the requests that come meanwhile for the next coordinator.
 */
export class TaskCoordination {
  readonly #options: TaskCoordinationOptions;
  #acting = false;
  #changing: Promise<void> = Promise.resolve();
  #checkTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TaskCoordinationOptions) {
    this.#options = options;
  }

  /** True once this server serves `tasks` (caught up and registered). */
  get acting(): boolean {
    return this.#acting && this.#options.queue.running;
  }

  start(): void {
    this.#checkTimer = setInterval(() => this.#check(), this.#options.checkMs ?? 100);
    this.#checkTimer.unref();
    this.#sweepTimer = setInterval(() => {
      // A failed sweep (the store's disk) is logged and tried at the next interval: it runs from a timer, where a rejection would end the process.
      this.#sweep().catch((error: unknown) => this.#options.logger.warn({ err: error }, 'could not remove expired finished jobs; trying again at the next sweep'));
    }, this.#options.sweepMs ?? 60_000);
    this.#sweepTimer.unref();
    this.#check();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#checkTimer);
    clearInterval(this.#sweepTimer);
    this.#check();
    await this.#changing;
  }

  #check(): void {
    const wanted = !this.#stopped && this.#options.isCoordinator();
    if (wanted === this.#acting) return;
    this.#acting = wanted;
    this.#changing = this.#changing.then(() => (wanted ? this.#takeOver() : this.#stepDown())).catch((error: unknown) => {
      this.#options.logger.error({ err: error }, wanted ? 'taking over the task queue failed; trying again' : 'leaving the task queue failed');
      // Looked at again at the next check.
      this.#acting = !wanted;
    });
  }

  async #takeOver(): Promise<void> {
    const started = performance.now();
    let merged = 0;
    for (const peer of this.#options.peers()) {
      // A live peer that cannot answer fails the take-over, tried again at the next check: it may be
      // the replica that alone holds an acknowledged change. One that is down leaves the live
      // peers once the reference server notices, and is not waited for after that.
      merged += await this.#mergeFrom(peer);
    }
    if (!this.#acting || this.#stopped) return;
    this.#options.queue.start();
    await this.#options.serve(true);
    this.#options.logger.info({ merged, jobs: this.#options.store.size, ms: Math.round(performance.now() - started) }, 'coordinating the task queue');
  }

  async #stepDown(): Promise<void> {
    this.#options.queue.stop();
    await this.#options.serve(false);
    this.#options.logger.info('no longer coordinating the task queue');
  }

  async #mergeFrom(peer: string): Promise<number> {
    let merged = await this.#options.store.merge([], await this.#options.peerSchedules(peer));
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { jobs, next } = await this.#options.listPeer(peer, after);
      if (jobs.length > 0) merged += await this.#options.store.merge(jobs);
      if (next === undefined) break;
      after = next;
    }
    return merged;
  }

  /** Finished jobs past their TTL leave every server's copy, the coordinator's by its own timers. */
  async #sweep(): Promise<void> {
    if (this.#options.queue.running) return;
    const now = (this.#options.now ?? Date.now)();
    const store = this.#options.store;
    await store.transaction(() => {
      for (const id of store.dueTimers(now, 5_000)) {
        const job = store.get(id);
        if (job !== undefined && FINISHED.has(job.state) && (timerOf(job) ?? Infinity) <= now) store.remove(id);
      }
    });
  }
}
