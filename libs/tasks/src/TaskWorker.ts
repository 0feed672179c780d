import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CorreioError } from '@correio/codec';
import { createLogger, type Logger } from '@correio/observability';
import type { BodyOf, TaskJob } from '@correio/protocol';
import { backoffDelay, type DirectRouteStats, type SocketOptions } from '@correio/transport';
import { parseRate, TokenBucket } from './rate.js';
import { sleep } from './sleep.js';
import { RESEND_BACKOFF, TaskClient } from './TaskClient.js';

/** What a job handler is given besides the job's arguments. */
export interface JobContext {
  readonly id: string;
  readonly queue: string;
  readonly task: string;
  /** This attempt, from 1. */
  readonly attempt: number;
  readonly job: TaskJob;
  /** Aborted when the job is cancelled, its lease is lost, or the worker stops past its grace: stop the work. */
  readonly signal: AbortSignal;
  /** Reports progress (any v1 value): sent with the next heartbeat, shown by `tasks.get` and the event stream. */
  progress(value: unknown): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a handler declares the arguments it expects
export type JobHandler = (args: any, ctx: JobContext) => unknown;

export interface TaskWorkerOptions {
  readonly broker: string | readonly string[];
  readonly socket?: SocketOptions;
  readonly auth?: () => string | undefined;
  /** Lease and settle on the coordinator's direct endpoint while connected there (revision 1.9; TaskClientOptions.direct). Default true. */
  readonly direct?: boolean;
  /** This worker's id, unique among live workers. Default `<host>-<pid>-<random>`. */
  readonly id?: string;
  /** The queues it takes jobs from. */
  readonly queues: readonly string[];
  /** A handler per task name. Every worker of a queue must handle every task sent to it: an unknown task fails for good. */
  readonly handlers: Readonly<Record<string, JobHandler>>;
  /** Jobs run at once. Default 4. */
  readonly concurrency?: number;
  /**
   * Jobs leased beyond the free slots, held (and heartbeated) until a slot frees: saves a round
   * trip per job for short jobs, at the price of jobs waiting here while another worker is idle. Default 0.
   */
  readonly prefetch?: number;
  /** Per task name, at most this rate in this worker (Celery's rate_limit): `10/s`, `100/m`, `5/h`. */
  readonly rateLimits?: Readonly<Record<string, string>>;
  /** How long a lease request waits for a job (a long poll), ms; stop waits for the one in flight. Default 5,000. */
  readonly pollMs?: number;
  /** Defaults to a quiet `tasks-worker` logger. */
  readonly logger?: Logger;
}

export interface TaskWorkerStats {
  readonly leased: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Attempts whose lease was lost (expired or taken away): their outcome was dropped. */
  readonly lost: number;
  /** Jobs given back unfinished at stop. */
  readonly released: number;
  readonly running: number;
}

interface Running {
  readonly job: TaskJob;
  readonly controller: AbortController;
  lastBeat: number;
  progress?: unknown;
  progressDirty: boolean;
  lost: boolean;
  started: boolean;
}

/** Leases a heartbeat may carry (the protocol's maxItems). */
const BEAT_BATCH = 100;
/** Ms between looks at which leases need a heartbeat. */
const BEAT_CHECK_MS = 250;

/**
 * Runs jobs of some queues (protocol README, revision 1.6): pulls them with long-polling lease
 * requests (no more than its free slots, so a job never waits behind another in a busy worker),
 * runs each handler, heartbeats every running job at a third of its lease, and settles it with
 * its result or error. A lease the queue says is lost, or a cancellation, aborts the handler's
 * signal. At least once: a worker that dies mid-job loses its lease and the job runs again.
 */
export class TaskWorker {
  readonly id: string;
  readonly #options: TaskWorkerOptions;
  readonly #client: TaskClient;
  readonly #log: Logger;
  readonly #running = new Map<string, Running>();
  readonly #stopController = new AbortController();
  /** Aborts a lease request in flight only when stop has waited pollMs and more for it (a broker gone). */
  readonly #leaseAbort = new AbortController();
  readonly #stats = { leased: 0, succeeded: 0, failed: 0, lost: 0, released: 0 };
  readonly #limits = new Map<string, TokenBucket>();
  /** Jobs whose handler runs now (the others held wait for a slot or a rate token). */
  #busy = 0;
  #slotFreed: (() => void) | undefined;
  #polling: Promise<void> | undefined;
  #beatTimer: NodeJS.Timeout | undefined;
  #beating = false;
  #releasing = false;

  constructor(options: TaskWorkerOptions) {
    if (options.queues.length === 0) throw new RangeError('a task worker needs at least one queue');
    this.#options = options;
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.#log = (options.logger ?? createLogger('tasks-worker')).child({ worker: this.id });
    for (const [task, rate] of Object.entries(options.rateLimits ?? {})) this.#limits.set(task, new TokenBucket(parseRate(rate)));
    this.#client = new TaskClient({ broker: options.broker, ...(options.socket ? { socket: options.socket } : {}), ...(options.auth ? { auth: options.auth } : {}), ...(options.direct === undefined ? {} : { direct: options.direct }), timeoutMs: 60_000 });
  }

  /** Where its requests went: directly to the coordinator or through the broker. */
  get route(): DirectRouteStats | undefined {
    return this.#client.route;
  }

  get stats(): TaskWorkerStats {
    return { ...this.#stats, running: this.#running.size };
  }

  start(): this {
    this.#polling ??= this.#poll();
    this.#beatTimer ??= setInterval(() => void this.#heartbeat(), BEAT_CHECK_MS);
    return this;
  }

  /**
   * Stops taking jobs, lets running ones finish for `graceMs` (default 10 s), then aborts the rest
   * and gives them back (`released`: they run again elsewhere, the attempt not counted).
   */
  async stop(options: { readonly graceMs?: number } = {}): Promise<void> {
    if (!this.#stopController.signal.aborted) this.#stopController.abort();
    this.#slotFreed?.();
    const hardStop = setTimeout(() => this.#leaseAbort.abort(), (this.#options.pollMs ?? 5_000) + 5_000);
    await this.#polling?.catch(() => undefined);
    clearTimeout(hardStop);
    const deadline = performance.now() + (options.graceMs ?? 10_000);
    while (this.#running.size > 0 && performance.now() < deadline) await this.#nextSlot(Math.max(1, deadline - performance.now()));
    this.#releasing = true;
    for (const entry of this.#running.values()) entry.controller.abort(new Error('the worker is stopping'));
    while (this.#running.size > 0) await this.#nextSlot(1_000);
    clearInterval(this.#beatTimer);
    await this.#client.close();
  }

  async #poll(): Promise<void> {
    const { queues } = this.#options;
    const capacity = (this.#options.concurrency ?? 4) + (this.#options.prefetch ?? 0);
    let failures = 0;
    // Runs until stop.
    while (!this.#stopController.signal.aborted) {
      const free = capacity - this.#running.size;
      if (free <= 0) {
        await this.#nextSlot(60_000);
        continue;
      }
      let jobs: TaskJob[];
      try {
        // Not aborted by stop: the queue would still lease to this worker what comes due during the
        // poll; stop waits for the reply (at most pollMs) and gives back what it brings.
        ({ jobs } = await this.#client.call('tasks.lease.request', { worker: this.id, queues: queues as [string, ...string[]], max: Math.min(free, 100), wait_ms: this.#options.pollMs ?? 5_000 }, this.#leaseAbort.signal));
        failures = 0;
      } catch (error) {
        if (this.#stopController.signal.aborted) break;
        failures++;
        this.#log.warn({ err: error, failures }, 'leasing jobs failed; trying again');
        await sleep(backoffDelay(failures + 1, RESEND_BACKOFF));
        continue;
      }
      this.#stats.leased += jobs.length;
      if (this.#stopController.signal.aborted) {
        await Promise.all(jobs.map((job) => this.#giveBack(job)));
        break;
      }
      for (const job of jobs) void this.#run(job);
    }
  }

  async #run(job: TaskJob): Promise<void> {
    const entry = runningEntry(job);
    this.#running.set(job.id, entry);
    try {
      const handler = Object.hasOwn(this.#options.handlers, job.task) ? this.#options.handlers[job.task] : undefined;
      if (handler === undefined) {
        this.#refill(await this.#settle(entry, { outcome: 'failed', error: { type: 'UnknownTask', message: `worker ${this.id} has no handler for ${job.task}` }, retry: false }, true));
        return;
      }
      let result: unknown;
      try {
        await this.#turn(entry);
        result = await handler(job.args, this.#context(entry));
      } catch (error) {
        if (this.#releasing) await this.#settle(entry, { outcome: 'released' });
        else this.#refill(await this.#settle(entry, { outcome: 'failed', error: errorOf(error), retry: (error as { retry?: unknown } | null)?.retry !== false }, true));
        return;
      }
      this.#refill(await this.#settle(entry, { outcome: 'succeeded', ...(result === undefined ? {} : { result }) }, true));
    } finally {
      if (entry.started) this.#busy--;
      this.#running.delete(job.id);
      this.#slotFreed?.();
    }
  }

  /** Releases a job leased while stopping, unstarted. */
  async #giveBack(job: TaskJob): Promise<void> {
    await this.#settle(runningEntry(job), { outcome: 'released' });
  }

  /** Waits for this job's rate token and a free slot (prefetched jobs wait here); throws when the job is aborted meanwhile. */
  async #turn(entry: Running): Promise<void> {
    const signal = entry.controller.signal;
    const limit = this.#limits.get(entry.job.task);
    // Bounded by the job's abort (cancel, lost lease, stop) and by the bucket's refill.
    while (limit !== undefined && limit.take(1) === 0) {
      signal.throwIfAborted();
      await sleep(Math.max(1, limit.waitMs()), signal);
    }
    const concurrency = this.#options.concurrency ?? 4;
    while (this.#busy >= concurrency) {
      signal.throwIfAborted();
      await this.#nextSlot(1_000);
    }
    signal.throwIfAborted();
    this.#busy++;
    entry.started = true;
  }

  #context(entry: Running): JobContext {
    const { job } = entry;
    return {
      id: job.id,
      queue: job.queue,
      task: job.task,
      attempt: job.attempt,
      job,
      signal: entry.controller.signal,
      progress: (value) => {
        entry.progress = value;
        entry.progressDirty = true;
      },
    };
  }

  /**
   * Settles an attempt. With `refill`, unless the worker is stopping, the same request leases one
   * due job for the slot this one frees (revision 1.7): returned, to be run by the caller.
   */
  async #settle(entry: Running, outcome: Pick<BodyOf<'tasks.settle.request'>, 'outcome' | 'result' | 'error' | 'retry'>, refill = false): Promise<TaskJob[]> {
    if (entry.lost) return [];
    const { job } = entry;
    const lease = refill && !this.#stopController.signal.aborted ? { lease: { queues: this.#options.queues as [string, ...string[]], max: 1 } } : {};
    const body = { worker: this.id, id: job.id, attempt: job.attempt, ...outcome, ...lease };
    let leased: TaskJob[];
    try {
      ({ jobs: leased = [] } = await this.#client.call('tasks.settle.request', body));
    } catch (error) {
      if (error instanceof CorreioError && error.code === 'CONFLICT') {
        this.#stats.lost++;
        this.#log.info({ id: job.id, attempt: job.attempt }, 'the lease was lost before the job settled: its outcome is dropped (the job runs again)');
        return [];
      }
      if (error instanceof CorreioError && error.code === 'VALIDATION' && outcome.outcome === 'succeeded') {
        // A result the protocol cannot carry (a float, a function): the job fails for good, saying why.
        return this.#settle(entry, { outcome: 'failed', error: { type: 'InvalidResult', message: clip(`the handler's result cannot be sent: ${error.message}`) }, retry: false }, refill);
      }
      this.#log.warn({ err: error, id: job.id }, 'settling a job failed: its lease will expire and it runs again');
      return [];
    }
    if (outcome.outcome === 'succeeded') this.#stats.succeeded++;
    else if (outcome.outcome === 'failed') this.#stats.failed++;
    else this.#stats.released++;
    return leased;
  }

  /** Runs jobs a settle leased; each takes its slot before the settled job leaves it, so the poll does not lease for it too. */
  #refill(jobs: readonly TaskJob[]): void {
    this.#stats.leased += jobs.length;
    for (const job of jobs) {
      if (!this.#stopController.signal.aborted) {
        void this.#run(job);
        continue;
      }
      // Leased while the worker began to stop: given back, held in #running meanwhile so that stop waits for it.
      this.#running.set(job.id, runningEntry(job));
      void this.#giveBack(job).finally(() => {
        this.#running.delete(job.id);
        this.#slotFreed?.();
      });
    }
  }

  /** Heartbeats the leases that are a third of their length old, and the ones with new progress. */
  async #heartbeat(): Promise<void> {
    if (this.#beating || this.#running.size === 0) return;
    this.#beating = true;
    try {
      const now = performance.now();
      const due = [...this.#running.values()].filter((entry) => !entry.lost && (entry.progressDirty || now - entry.lastBeat >= entry.job.lease_ms / 3));
      for (let start = 0; start < due.length; start += BEAT_BATCH) {
        const batch = due.slice(start, start + BEAT_BATCH);
        const leases = batch.map((entry) => {
          entry.progressDirty = false;
          return { id: entry.job.id, attempt: entry.job.attempt, ...(entry.progress === undefined ? {} : { progress: entry.progress }) };
        });
        const reply = await this.#client.call('tasks.heartbeat.request', { worker: this.id, leases: leases as [(typeof leases)[number], ...typeof leases] });
        for (const [index, lease] of reply.leases.entries()) {
          const entry = batch[index];
          if (entry === undefined) continue;
          entry.lastBeat = now;
          if (!lease.held) {
            entry.lost = true;
            this.#stats.lost++;
            entry.controller.abort(new Error(`the lease of job ${entry.job.id} was lost`));
          } else if (lease.cancel) {
            entry.controller.abort(new Error(`job ${entry.job.id} was cancelled`));
          }
        }
      }
    } catch (error) {
      this.#log.warn({ err: error }, 'a heartbeat failed; the next one tries again before the leases end');
    } finally {
      this.#beating = false;
    }
  }

  #nextSlot(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.#slotFreed;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#slotFreed = () => {
        this.#slotFreed = undefined;
        previous?.();
        done();
      };
    });
  }
}

function runningEntry(job: TaskJob): Running {
  return { job, controller: new AbortController(), lastBeat: performance.now(), progressDirty: false, lost: false, started: false };
}

function errorOf(error: unknown): { type: string; message: string } {
  if (error instanceof Error) return { type: clip(error.name || 'Error', 200), message: clip(error.message) };
  return { type: 'Error', message: clip(String(error)) };
}

function clip(text: string, max = 4000): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
