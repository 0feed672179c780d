import { randomBytes } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError, TooLargeError, UnavailableError } from '@correio/codec';
import type { Logger } from '@correio/observability';
import type { BodyOf, TaskJob, TaskSchedule } from '@correio/protocol';
import { TokenBucket, type Rate } from '@correio/tasks';
import { checkCron, latestTick, nextTick } from './cron.js';
import { jobSize, MAX_BATCH_BYTES } from './jobSize.js';
import * as states from './jobStates.js';
import type { CopyUrgency, TaskReplicator } from './TaskReplicator.js';
import type { SettledHow } from './taskMetrics.js';
import type { TaskStore } from './TaskStore.js';

export interface TaskQueueOptions {
  readonly store: TaskStore;
  readonly replicator: TaskReplicator;
  /** Publishes `tasks.event` on `tasks/<queue>/` once a change is acknowledged; a throw is logged, the change stands. */
  readonly announce: (job: TaskJob) => void;
  readonly logger: Logger;
  /** The synchronised clock. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Long polls (lease and get waits) held at once at most; past it they answer at once. Default 1,000. */
  readonly maxWaiters?: number;
  /** Ms between looks at the timers (schedules, backoffs, leases' ends, expiries). Default 50. */
  readonly tickMs?: number;
  /** Per queue, at most this many leases per period, across every worker of the cluster (a burst up to the count). */
  readonly rateLimits?: ReadonlyMap<string, Rate>;
  /**
   * True while this server is the elected coordinator: read at every request and tick, so a
   * server that lost the role decides nothing more even before it has left the service.
   */
  readonly coordinating?: () => boolean;
  /** What the coordinator counts: lease expiries, retries, dead letters, runtimes. */
  readonly onSettled?: (job: TaskJob, how: SettledHow, runtimeMs?: number) => void;
}

interface LeaseWaiter {
  readonly queues: ReadonlySet<string>;
  readonly worker: string;
  /** Ends the wait empty-handed: the poll looks at the queues again. */
  readonly wake: () => void;
  /** Takes the waiter for a hand-off: false when it is no longer waiting. */
  readonly claim: () => boolean;
  /** Answers a claimed waiter with the jobs leased to it. */
  readonly hand: (jobs: TaskJob[]) => void;
}

/** Timers handled per tick at most: a backlog of due timers is worked through over several ticks. */
const TICK_BATCH = 500;
/** Jobs a queue's index is read for per lease, beyond the ones wanted (ids already taken in the same transaction are skipped). */
const LEASE_SCAN = 100;
/** Workflow steps one finished job releases or cancels at most, down its chain. */
const MAX_CASCADE = 10_000;
/** Schedules the coordinator runs at most (the protocol's maxItems of a list). */
const MAX_SCHEDULES = 1_000;
/** Ms between looks at the schedules. */
const CRON_CHECK_MS = 250;
/** Jobs one purge request cancels at most (protocol: more is true beyond). */
const PURGE_BATCH = 1_000;

/**
 * The task queue's decisions (protocol README, revision 1.6), made on the coordinator only: every
 * change is one transaction of the task store (so decisions are serialised), durable here and
 * copied to `replicas − 1` other servers before it is acknowledged, then announced. Leases are
 * pulled by workers (long polls), extended by heartbeats and expired by the timer tick, which also
 * makes scheduled and retrying jobs due and deletes finished jobs past their TTL.
 */
export class TaskQueue {
  readonly #options: TaskQueueOptions;
  readonly #store: TaskStore;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #leaseWaiters = new Set<LeaseWaiter>();
  readonly #resultWaiters = new Map<string, Set<(job: TaskJob) => void>>();
  /** When each active job's current attempt was leased here (runtime histogram). */
  readonly #leasedAt = new Map<string, number>();
  readonly #buckets = new Map<string, TokenBucket>();
  #waiters = 0;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #lastCronCheck = 0;

  constructor(options: TaskQueueOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    for (const [queue, rate] of options.rateLimits ?? []) this.#buckets.set(queue, new TokenBucket(rate));
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  /** Starts the timer tick (this server became the coordinator). */
  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), this.#options.tickMs ?? 50);
    this.#timer.unref();
  }

  /** Stops the tick and answers every long poll now (empty leases; jobs as they are). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const waiter of [...this.#leaseWaiters]) waiter.wake();
    for (const [id, waiters] of [...this.#resultWaiters]) {
      const job = this.#store.get(id);
      for (const wake of waiters) if (job) wake(job);
    }
    this.#leasedAt.clear();
    this.#options.replicator.clear();
  }

  async enqueue(body: BodyOf<'tasks.enqueue.request'>): Promise<BodyOf<'tasks.enqueue.reply'>> {
    this.#requireRunning();
    const id = body.id ?? `j_${randomBytes(12).toString('base64url')}`;
    let handOff: { waiter: LeaseWaiter; queued: TaskJob } | undefined;
    const committing = this.#store.transaction(() => {
      const held = this.#store.get(id);
      // A job that existed may be the one a failed first attempt left here only: it is copied again.
      if (held !== undefined) return { job: held, created: false, copied: this.#copyWhileCommitting([held]) };
      const now = this.#now();
      const queued = states.newJob(body, id, now);
      requireFits(queued, 'its arguments');
      // A worker polling this queue gets the job in the same transaction: one commit and one copy
      // fewer than queued-then-leased, and no second wake-up.
      const waiter = queued.state === 'queued' ? this.#claimWaiter(queued.queue) : undefined;
      const job = waiter === undefined ? queued : states.leased(queued, waiter.worker, now);
      if (waiter !== undefined) {
        handOff = { waiter, queued };
        this.#leasedAt.set(job.id, now);
      }
      this.#store.put(job);
      return { job, created: true, copied: this.#copyWhileCommitting([job]) };
    });
    let outcome: Awaited<typeof committing>;
    try {
      outcome = await committing;
    } catch (error) {
      // Nothing was stored (a full disk): the claimed poll answers empty-handed and looks again.
      (handOff as { waiter: LeaseWaiter } | undefined)?.waiter.hand([]);
      throw error;
    }
    // The waiting worker gets the job once it is durable here, while the replicas still store it:
    // should this server die before they do, the producer (unanswered) resends the same id to the
    // next coordinator, and the job runs again — at least once, as a lost lease would.
    handOff?.waiter.hand([outcome.job]);
    await outcome.copied;
    if (outcome.created) this.#acknowledged(handOff === undefined ? [outcome.job] : [handOff.queued, outcome.job]);
    return { job: outcome.job, created: outcome.created };
  }

  /** The longest-waiting poll of `queue` (its rate allowing), taken out of the waiters. Inside a transaction. */
  #claimWaiter(queue: string): LeaseWaiter | undefined {
    for (const waiter of this.#leaseWaiters) {
      if (!waiter.queues.has(queue)) continue;
      const bucket = this.#buckets.get(queue);
      if (bucket !== undefined && bucket.take(1) === 0) return undefined;
      if (waiter.claim()) return waiter;
    }
    return undefined;
  }

  /** Leases up to `max` due jobs of `queues`; waits up to `waitMs` for one when none is due. */
  async lease(worker: string, queues: readonly string[], max: number, waitMs: number, signal: AbortSignal): Promise<TaskJob[]> {
    this.#requireRunning();
    const wanted = new Set(queues);
    const deadline = performance.now() + waitMs;
    for (let round = 0; round < 10_000; round++) {
      const jobs = await this.#takeDue(worker, wanted, max);
      if (jobs.length > 0) return jobs;
      const left = deadline - performance.now();
      if (left <= 0 || signal.aborted || !this.running || this.#waiters >= (this.#options.maxWaiters ?? 1_000)) return [];
      const handed = await this.#waitForDue(wanted, worker, left, signal);
      if (handed !== undefined) return handed;
    }
    return [];
  }

  heartbeat(worker: string, leases: BodyOf<'tasks.heartbeat.request'>['leases']): Promise<BodyOf<'tasks.heartbeat.reply'>> {
    this.#requireRunning();
    return this.#change(() => {
      const now = this.#now();
      const changed: TaskJob[] = [];
      const answers = leases.map((lease) => {
        const job = this.#store.get(lease.id);
        if (job === undefined || !states.holds(job, worker, lease.attempt)) {
          return { id: lease.id, attempt: lease.attempt, held: false, cancel: job?.cancel_requested === true };
        }
        let next = states.extended(job, now, lease.progress);
        // Progress too large to travel with the job is dropped; the lease is extended all the same.
        if (lease.progress !== undefined && 'problem' in jobSize(next)) next = states.extended(job, now, undefined);
        this.#store.put(next);
        changed.push(next);
        return { id: lease.id, attempt: lease.attempt, held: true, cancel: next.cancel_requested === true, lease_until: next.lease_until! };
      });
      return { changed, result: { leases: answers } };
    }, 'after reply');
  }

  /**
   * Settles an attempt; with `lease` (revision 1.7) then leases due jobs to the same worker without
   * waiting, in the same commit: a busy worker refills its slot in the round trip that frees it.
   */
  async settle(body: BodyOf<'tasks.settle.request'>): Promise<BodyOf<'tasks.settle.reply'>> {
    this.#requireRunning();
    const { lease } = body;
    if (lease === undefined) return { job: await this.#change(() => this.#settleDecision(body)) };
    let settledBytes: number | undefined;
    const settling = this.#change(() => {
      const decided = this.#settleDecision(body);
      settledBytes = decided.bytes;
      return decided;
    });
    // Queued behind the settle's transaction, so it joins the same commit; it takes nothing when the settle failed there.
    const leasing = this.#change(() => {
      if (settledBytes === undefined) return { changed: [], result: [] };
      // The reply carries the settled job too: the leased ones get what is left of a batch's bytes.
      return this.#takeDueDecision(body.worker, new Set(lease.queues), lease.max ?? 1, MAX_BATCH_BYTES - settledBytes);
    }, 'after reply');
    try {
      const job = await settling;
      return { job, jobs: await leasing };
    } catch (error) {
      // The settle failed after its commit (too few replicas): what the lease took goes back.
      const taken = await leasing.catch(() => []);
      for (const job of taken) void this.settle({ worker: body.worker, id: job.id, attempt: job.attempt, outcome: 'released' }).catch(() => undefined);
      throw error;
    }
  }

  /** Inside a transaction: the attempt's outcome, and the settled job's encoded size. */
  #settleDecision(body: BodyOf<'tasks.settle.request'>): { changed: TaskJob[]; result: TaskJob; bytes: number } {
    const job = this.#found(body.id);
    if (!states.holds(job, body.worker, body.attempt)) {
      throw new ConflictError(`the lease of attempt ${body.attempt} of job ${body.id} is no longer ${body.worker}'s: the job is ${job.state} (attempt ${job.attempt}); drop the outcome`, {
        data: { id: body.id, state: job.state, attempt: job.attempt, reason: 'lease_lost' },
      });
    }
    const now = this.#now();
    let next =
      body.outcome === 'succeeded'
        ? states.succeeded(job, now, body.result)
        : body.outcome === 'released'
          ? states.released(job, now)
          : states.failed(job, now, body.error ?? { type: 'Error', message: '' }, body.retry !== false, this.#random);
    let size = jobSize(next);
    if ('problem' in size) {
      next = states.failed(job, now, { type: 'InvalidResult', message: `the result cannot be kept with the job: ${size.problem}` }, false, this.#random);
      size = jobSize(next);
    }
    const changed: TaskJob[] = [];
    this.#put(next, changed, now);
    const leasedAt = this.#leasedAt.get(job.id);
    this.#leasedAt.delete(job.id);
    this.#options.onSettled?.(next, body.outcome === 'released' ? 'released' : (next.state as SettledHow), leasedAt === undefined ? undefined : now - leasedAt);
    return { changed, result: next, bytes: 'bytes' in size ? size.bytes : MAX_BATCH_BYTES };
  }

  /** The job now, or once finished when `waitMs` allows. */
  async get(id: string, waitMs: number, signal: AbortSignal): Promise<TaskJob> {
    const job = this.#found(id);
    if (waitMs === 0 || states.FINISHED.has(job.state) || !this.running || this.#waiters >= (this.#options.maxWaiters ?? 1_000)) return job;
    return new Promise<TaskJob>((resolve) => {
      let waiters = this.#resultWaiters.get(id);
      if (waiters === undefined) this.#resultWaiters.set(id, (waiters = new Set()));
      this.#waiters++;
      const finish = (answer: TaskJob): void => {
        if (!waiters.delete(finish)) return;
        if (waiters.size === 0) this.#resultWaiters.delete(id);
        this.#waiters--;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      };
      const onAbort = (): void => finish(this.#store.get(id) ?? job);
      const timer = setTimeout(onAbort, waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      waiters.add(finish);
    });
  }

  cancel(id: string): Promise<TaskJob> {
    this.#requireRunning();
    return this.#change(() => {
      const job = this.#found(id);
      const now = this.#now();
      if (states.FINISHED.has(job.state) || job.cancel_requested) return { changed: [], result: job };
      const next = job.state === 'active' ? states.cancelRequested(job, now) : states.cancelled(job, now, undefined);
      const changed: TaskJob[] = [];
      this.#put(next, changed, now);
      return { changed, result: next };
    });
  }

  retry(id: string): Promise<TaskJob> {
    this.#requireRunning();
    return this.#change(() => {
      const job = this.#found(id);
      if (job.state !== 'dead' && job.state !== 'cancelled') {
        throw new ConflictError(`job ${id} is ${job.state}: only dead or cancelled jobs are replayed`, { data: { id, state: job.state, reason: 'not_finished' } });
      }
      const next = states.replayed(job, this.#now());
      this.#store.put(next);
      return { changed: [next], result: next };
    });
  }

  /** Cancels up to PURGE_BATCH waiting jobs of a queue (or its dead letters), error type `purged`. */
  purge(queue: string, state: 'scheduled' | 'queued' | 'retrying' | 'dead' | undefined): Promise<{ purged: number; more: boolean }> {
    this.#requireRunning();
    const purged = new Set<string>(state === undefined ? ['scheduled', 'queued', 'retrying'] : [state]);
    return this.#change(() => {
      const now = this.#now();
      const changed: TaskJob[] = [];
      let more = false;
      let purgedCount = 0;
      let after: string | undefined;
      // Pages of the store by id: bounded by the batch and by each page's scan budget.
      for (let page = 0; page < 100 && !more; page++) {
        const { jobs, next } = this.#store.list({ queue }, 1_000, after);
        for (const job of jobs) {
          if (!purged.has(job.state)) continue;
          if (purgedCount >= PURGE_BATCH) {
            more = true;
            break;
          }
          this.#put(states.cancelled(job, now, { type: 'purged', message: `purged from queue ${queue}` }), changed, now);
          purgedCount++;
        }
        if (next === undefined) break;
        after = next;
      }
      return { changed, result: { purged: purgedCount, more } };
    });
  }

  /**
   * One transaction deciding `changed` (jobs and schedules), then their copies, then the
   * announcements. Leases and their extensions are copied `after reply`: a coordinator that dies
   * before its copy arrives leaves the job queued for its successor, which leases it again — what
   * at least once allows; the worker that held it learns it lost the lease. Everything else is
   * acknowledged only once it is on the replicas. The copies leave from inside the transaction,
   * so the replicas' commits overlap this one's sync (see #copyWhileCommitting).
   */
  async #change<T>(decide: () => { changed: TaskJob[]; schedules?: TaskSchedule[]; result: T }, replicate: 'before reply' | 'after reply' = 'before reply'): Promise<T> {
    const { changed, result, copied } = await this.#store.transaction(() => {
      const { changed, schedules = [], result } = decide();
      const copying = changed.length > 0 || schedules.length > 0;
      return { changed, result, copied: copying ? this.#copyWhileCommitting(changed, schedules, replicate === 'before reply' ? 'now' : 'lazy') : undefined };
    });
    if (copied !== undefined) {
      if (replicate === 'before reply') {
        await copied;
        this.#acknowledged(changed);
      } else {
        // Announced once copied all the same: copies complete in the order of their commits, so
        // the events of a job keep the order of its changes.
        copied.then(
          () => this.#acknowledged(changed),
          (error: unknown) => {
            this.#options.logger.debug({ err: error }, 'a lease copy did not reach enough peers; a new coordinator would lease the job again');
            this.#acknowledged(changed);
          },
        );
      }
    }
    return result;
  }

  /**
   * Starts copying a change decided inside a transaction before that transaction is durable: the
   * replicas' round trip and commits overlap the local sync, and the reply waits for both. Copies
   * leave in the order of the transactions, so each peer gets a job's versions in order. Should
   * the local commit fail (a full disk), the request fails and the peers may hold a version this
   * server does not: the producer's retry (same id) or the job's next change supersedes it, and a
   * successor that merges it had that change requested, unacknowledged — at least once allows it.
   */
  #copyWhileCommitting(jobs: readonly TaskJob[], schedules: readonly TaskSchedule[] = [], urgency: CopyUrgency = 'now'): Promise<void> {
    const copied = this.#options.replicator.copy(jobs, schedules, urgency);
    // Awaited after the commit; a commit that fails first leaves it unawaited.
    copied.catch(() => undefined);
    return copied;
  }

  /** Puts a job's new version; a finished one releases (or cancels) the workflow steps waiting for it. Inside a transaction. */
  #put(job: TaskJob, changed: TaskJob[], now: number): void {
    this.#store.put(job);
    changed.push(job);
    if (!states.FINISHED.has(job.state) || job.then === undefined) return;
    const finished = [job];
    // Down a workflow: each step at most once (it leaves `waiting`), so bounded by the store.
    for (let steps = 0; finished.length > 0 && steps < MAX_CASCADE; steps++) {
      const parent = finished.pop()!;
      for (const id of parent.then ?? []) {
        const step = this.#store.get(id);
        if (step?.state !== 'waiting') continue;
        if (parent.state === 'succeeded') {
          const parents = (step.after ?? []).map((other) => (other === parent.id ? parent : this.#store.get(other)));
          if (!parents.every((other) => other?.state === 'succeeded')) continue;
          const args = step.receives === 'result' ? (parents[0]!.result ?? null) : step.receives === 'results' ? parents.map((other) => other!.result ?? null) : undefined;
          const ready = states.unblocked(step, now, args);
          const size = jobSize(ready);
          if ('problem' in size) {
            const gone = states.cancelled(step, now, { type: 'ArgsTooLarge', message: `the results this step receives cannot travel with it: ${size.problem}` });
            this.#store.put(gone);
            changed.push(gone);
            finished.push(gone);
            continue;
          }
          this.#store.put(ready);
          changed.push(ready);
        } else {
          const gone = states.cancelled(step, now, { type: 'parent_failed', message: `${parent.id}, which this step waits for, is ${parent.state}` });
          this.#store.put(gone);
          changed.push(gone);
          finished.push(gone);
        }
      }
    }
  }

  /** Enqueues a workflow: every step in one transaction, the waiting ones released as their jobs succeed. */
  async flow(body: BodyOf<'tasks.flow.request'>): Promise<BodyOf<'tasks.flow.reply'>> {
    this.#requireRunning();
    checkFlow(body.jobs);
    const flowId = body.id ?? `f_${randomBytes(9).toString('base64url')}`;
    const ids = body.jobs.map((spec) => `${flowId}:${spec.ref}`) as [string, ...string[]];
    const outcome = await this.#store.transaction(() => {
      if (this.#store.get(ids[0]) !== undefined) return { created: false, jobs: ids.flatMap((id) => this.#store.get(id) ?? []) };
      const now = this.#now();
      const byRef = new Map<string, TaskJob>();
      for (const spec of body.jobs) {
        const { ref, after, receives, ...request } = spec;
        let job = states.newJob(request, `${flowId}:${ref}`, now);
        if (after !== undefined) {
          job = { ...job, state: 'waiting', after: after.map((parent) => `${flowId}:${parent}`) as [string, ...string[]], ...(receives === undefined ? {} : { receives }) };
          for (const parentRef of after) {
            const parent = byRef.get(parentRef)!;
            byRef.set(parentRef, { ...parent, then: [...(parent.then ?? []), job.id] as [string, ...string[]] });
          }
        }
        byRef.set(ref, job);
      }
      const jobs = [...byRef.values()];
      for (const job of jobs) requireFits(job, `step ${job.id}'s arguments`);
      for (const job of jobs) this.#store.put(job);
      return { created: true, jobs };
    });
    await this.#options.replicator.copy(outcome.jobs);
    if (outcome.created) this.#acknowledged(outcome.jobs);
    return { id: flowId, ids, created: outcome.created };
  }

  /** Creates or replaces a periodic schedule. */
  schedule(body: BodyOf<'tasks.schedule.request'>): Promise<TaskSchedule> {
    this.#requireRunning();
    checkCron(body.cron);
    requireFits(states.scheduledJob(body, this.#now(), this.#now()), "the schedule's arguments");
    return this.#change(() => {
      const now = this.#now();
      const held = this.#store.schedule(body.name);
      const live = held !== undefined && !held.removed ? held : undefined;
      // The same cron keeps its place; a new one starts from now.
      const since = live !== undefined && live.cron === body.cron ? (live.last_tick ?? live.created_at) : now;
      const next = nextTick(body.cron, since);
      const schedule: TaskSchedule = {
        ...body,
        created_at: live?.created_at ?? now,
        updated_at: now,
        version: (held?.version ?? 0) + 1,
        ...(live !== undefined && live.cron === body.cron && live.last_tick !== undefined ? { last_tick: live.last_tick } : {}),
        ...(next === undefined ? {} : { next_tick: next }),
      };
      this.#store.putSchedule(schedule);
      return { changed: [], schedules: [schedule], result: schedule };
    });
  }

  unschedule(name: string): Promise<boolean> {
    this.#requireRunning();
    return this.#change(() => {
      const held = this.#store.schedule(name);
      if (held === undefined || held.removed) return { changed: [], result: false };
      const now = this.#now();
      const { next_tick: _next, ...rest } = held;
      const tombstone: TaskSchedule = { ...rest, removed: true, updated_at: now, version: held.version + 1 };
      this.#store.putSchedule(tombstone);
      return { changed: [], schedules: [tombstone], result: true };
    });
  }

  /** Fires every schedule whose newest tick is past its last one: one job each, id schedule:<name>:<tick>. */
  async #fireSchedules(now: number): Promise<void> {
    const due = this.#store.schedules(MAX_SCHEDULES).flatMap((schedule) => {
      const tick = latestTick(schedule.cron, now);
      return tick !== undefined && tick > (schedule.last_tick ?? schedule.created_at) ? [{ schedule, tick }] : [];
    });
    if (due.length === 0) return;
    await this.#change(() => {
      const changed: TaskJob[] = [];
      const schedules: TaskSchedule[] = [];
      for (const { schedule: seen, tick } of due) {
        const schedule = this.#store.schedule(seen.name);
        if (schedule === undefined || schedule.removed || schedule.version !== seen.version) continue;
        const job = states.scheduledJob(schedule, tick, now);
        if (this.#store.get(job.id) === undefined) this.#put(job, changed, now);
        const next = nextTick(schedule.cron, tick);
        const fired: TaskSchedule = { ...schedule, last_tick: tick, updated_at: now, version: schedule.version + 1, ...(next === undefined ? {} : { next_tick: next }) };
        this.#store.putSchedule(fired);
        schedules.push(fired);
      }
      return { changed, schedules, result: undefined };
    });
  }

  /** Takes due jobs in one transaction: marks them active for `worker`. */
  #takeDue(worker: string, queues: ReadonlySet<string>, max: number): Promise<TaskJob[]> {
    return this.#change(() => this.#takeDueDecision(worker, queues, max), 'after reply');
  }

  /**
   * Inside a transaction: the due jobs `worker` takes, at most `max` and about `maxBytes` of them
   * encoded. Without `maxBytes` one job is always taken, whatever its size (it travels alone).
   */
  #takeDueDecision(worker: string, queues: ReadonlySet<string>, max: number, maxBytes?: number): { changed: TaskJob[]; result: TaskJob[] } {
    const now = this.#now();
    const taken: TaskJob[] = [];
    // Highest priority across the queues first: each queue's best candidates, merged.
    const candidates: { job: TaskJob; bytes: number }[] = [];
    for (const queue of queues) {
      for (const id of this.#store.dueIds(queue, Math.min(max, LEASE_SCAN))) {
        const held = this.#store.getWithSize(id);
        if (held?.job.state === 'queued') candidates.push(held);
      }
    }
    candidates.sort(({ job: a }, { job: b }) => b.priority - a.priority || a.run_at - b.run_at);
    // A rate-limited queue gives at most the tokens its bucket holds now.
    const quota = new Map<string, number>();
    for (const queue of queues) {
      const bucket = this.#buckets.get(queue);
      if (bucket !== undefined) quota.set(queue, bucket.available);
    }
    let bytes = 0;
    for (const { job, bytes: jobBytes } of candidates) {
      if (taken.length >= max) break;
      // A reply holds about MAX_BATCH_BYTES of jobs (as stored: the lease adds a few bytes each); one job always fits alone.
      if (maxBytes === undefined ? taken.length > 0 && bytes + jobBytes > MAX_BATCH_BYTES : bytes + jobBytes > maxBytes) break;
      const left = quota.get(job.queue);
      if (left !== undefined) {
        if (left <= 0) continue;
        quota.set(job.queue, left - 1);
        this.#buckets.get(job.queue)!.take(1);
      }
      bytes += jobBytes;
      const next = states.leased(job, worker, now);
      this.#store.put(next);
      this.#leasedAt.set(next.id, now);
      taken.push(next);
    }
    return { changed: taken, result: taken };
  }

  /** Waits for a job of `queues` to become due (undefined: look again) or to be handed over (the jobs). */
  #waitForDue(queues: ReadonlySet<string>, worker: string, ms: number, signal: AbortSignal): Promise<TaskJob[] | undefined> {
    return new Promise<TaskJob[] | undefined>((resolve) => {
      this.#waiters++;
      const leave = (): boolean => {
        if (!this.#leaseWaiters.delete(waiter)) return false;
        this.#waiters--;
        clearTimeout(timer);
        signal.removeEventListener('abort', waiter.wake);
        return true;
      };
      const waiter: LeaseWaiter = {
        queues,
        worker,
        wake: () => {
          if (leave()) resolve(undefined);
        },
        claim: leave,
        hand: (jobs) => resolve(jobs),
      };
      const timer = setTimeout(waiter.wake, ms);
      signal.addEventListener('abort', waiter.wake, { once: true });
      this.#leaseWaiters.add(waiter);
    });
  }

  /** After a change is durable and copied: announce it, wake the polls it concerns. */
  #acknowledged(jobs: readonly TaskJob[]): void {
    const due = new Set<string>();
    for (const job of jobs) {
      try {
        this.#options.announce(job);
      } catch (error) {
        // The change is durable and copied: a lost event (the publisher closed at shutdown, its queue
        // full) must not fail it, nor escape from the copy's callback, where it would end the process.
        this.#options.logger.warn({ err: error, job: job.id, state: job.state }, 'a task change could not be announced; readers will find it by querying the job');
      }
      if (job.state === 'queued') due.add(job.queue);
      if (states.FINISHED.has(job.state)) for (const wake of [...(this.#resultWaiters.get(job.id) ?? [])]) wake(job);
    }
    if (due.size === 0) return;
    for (const waiter of [...this.#leaseWaiters]) {
      for (const queue of due) {
        if (waiter.queues.has(queue)) {
          waiter.wake();
          break;
        }
      }
    }
  }

  async #tick(): Promise<void> {
    if (this.#ticking || !(this.#options.coordinating?.() ?? true)) return;
    this.#ticking = true;
    try {
      const now = this.#now();
      this.#wakeRateLimited();
      if (now - this.#lastCronCheck >= CRON_CHECK_MS) {
        this.#lastCronCheck = now;
        await this.#fireSchedules(now);
      }
      if (this.#store.dueTimers(now, 1).length === 0) return;
      await this.#change(() => {
        const changed: TaskJob[] = [];
        for (const id of this.#store.dueTimers(now, TICK_BATCH)) {
          const job = this.#store.get(id);
          if (job === undefined) continue;
          const at = states.timerOf(job);
          if (at === undefined || at > now) continue;
          if (states.FINISHED.has(job.state)) {
            this.#store.remove(id);
            continue;
          }
          const next = job.state === 'active' ? states.leaseExpired(job, now) : states.promoted(job, now);
          if (job.state === 'active') {
            this.#leasedAt.delete(id);
            this.#options.onSettled?.(next, 'lease_expired');
          }
          this.#put(next, changed, now);
        }
        return { changed, result: undefined };
      });
    } catch (error) {
      this.#options.logger.warn({ err: error }, 'a task timer round failed; the next tick tries again');
    } finally {
      this.#ticking = false;
    }
  }

  /** Long polls on a rate-limited queue wait for its tokens: woken once there are tokens and due jobs. */
  #wakeRateLimited(): void {
    if (this.#buckets.size === 0 || this.#leaseWaiters.size === 0) return;
    const ready = new Set<string>();
    for (const [queue, bucket] of this.#buckets) {
      if (bucket.available >= 1 && !this.#store.dueIds(queue, 1).next().done) ready.add(queue);
    }
    if (ready.size === 0) return;
    for (const waiter of [...this.#leaseWaiters]) {
      if ([...ready].some((queue) => waiter.queues.has(queue))) waiter.wake();
    }
  }

  #found(id: string): TaskJob {
    const job = this.#store.get(id);
    if (job === undefined) throw new NotFoundError(`no job ${id} (never enqueued, or finished longer ago than its result TTL)`, { data: { id } });
    return job;
  }

  #requireRunning(): void {
    if (!this.running || !(this.#options.coordinating?.() ?? true)) throw new UnavailableError('this server does not coordinate the task queue (any more): retry, the broker sends it to the coordinator', { data: { reason: 'not_coordinator' } });
  }
}

/** BAD_REQUEST unless every ref is unique and every step waits only for steps named before it (no cycle). */
function checkFlow(specs: BodyOf<'tasks.flow.request'>['jobs']): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (seen.has(spec.ref)) throw new BadRequestError(`the workflow names step ${spec.ref} twice`, { data: { ref: spec.ref, reason: 'duplicate_ref' } });
    for (const parent of spec.after ?? []) {
      if (!seen.has(parent)) throw new BadRequestError(`step ${spec.ref} waits for ${parent}, which is not a step named before it`, { data: { ref: spec.ref, after: parent, reason: 'unknown_ref' } });
    }
    if (spec.receives === 'result' && spec.after?.length !== 1) {
      throw new BadRequestError(`step ${spec.ref} receives the result of one job: it must wait for exactly one (receives: results takes several)`, { data: { ref: spec.ref, reason: 'receives_result' } });
    }
    seen.add(spec.ref);
  }
}

/** TOO_LARGE unless the job can travel inside a lease, a copy or a page (jobSize). */
function requireFits(job: TaskJob, what: string): void {
  const size = jobSize(job);
  if ('problem' in size) throw new TooLargeError(`${what} cannot travel with the job: ${size.problem}`, { data: { id: job.id, reason: 'job_too_large' } });
}
