import type { BodyOf, TaskJob, TaskSchedule } from '@correio/protocol';

type TaskState = TaskJob['state'];

/**
 * A job's state machine (protocol README, revision 1.6), as pure functions of the job and the
 * time: the coordinator applies them inside its store's transactions.
 *
 *   scheduled ─(run_at)─▶ queued ─(lease)─▶ active ─(succeeded)─▶ succeeded
 *                            ▲                 │ (failed, attempts left) ─▶ retrying ─(backoff)─▶ queued
 *                            │                 │ (failed, last attempt) ──▶ dead ─(retry)─▶ queued
 *                            └──(released, lease expired with attempts left)
 *   cancel: scheduled, queued, retrying ─▶ cancelled; active ─▶ cancel_requested, cancelled when settled or expired
 *   waiting (a workflow step) ─(every job in `after` succeeded)─▶ queued; ─(one dead or cancelled)─▶ cancelled
 */

export const DEFAULTS = {
  priority: 0,
  maxAttempts: 3,
  backoffMs: 1_000,
  maxBackoffMs: 300_000,
  leaseMs: 30_000,
  resultTtlMs: 24 * 60 * 60_000,
} as const;

/** Up to this fraction of a backoff is added at random, so that jobs failing together do not retry together. */
const JITTER = 0.25;

export const FINISHED: ReadonlySet<TaskState> = new Set(['succeeded', 'dead', 'cancelled']);

/** When a job's timer fires: its due time, its lease's end, or a finished job's expiry. */
export function timerOf(job: TaskJob): number | undefined {
  switch (job.state) {
    case 'scheduled':
    case 'retrying':
      return job.run_at;
    case 'active':
      return job.lease_until;
    case 'queued':
    case 'waiting':
      return undefined;
    default:
      return (job.finished_at ?? job.updated_at) + job.result_ttl_ms;
  }
}

/** What a job is made from: an enqueue request, a workflow step or a schedule's tick. */
export type JobRequest = Omit<BodyOf<'tasks.enqueue.request'>, 'id'>;

export function newJob(body: JobRequest, id: string, now: number): TaskJob {
  const runAt = Math.max(now + (body.delay_ms ?? 0), body.run_at ?? 0);
  return {
    id,
    queue: body.queue,
    task: body.task,
    ...(body.args === undefined ? {} : { args: body.args }),
    state: runAt > now ? 'scheduled' : 'queued',
    priority: body.priority ?? DEFAULTS.priority,
    attempt: 0,
    max_attempts: body.max_attempts ?? DEFAULTS.maxAttempts,
    backoff_ms: body.backoff_ms ?? DEFAULTS.backoffMs,
    max_backoff_ms: body.max_backoff_ms ?? DEFAULTS.maxBackoffMs,
    lease_ms: body.lease_ms ?? DEFAULTS.leaseMs,
    result_ttl_ms: body.result_ttl_ms ?? DEFAULTS.resultTtlMs,
    run_at: runAt > now ? runAt : now,
    created_at: now,
    updated_at: now,
    version: 1,
  };
}

/** The job a schedule makes at `tick`: id `schedule:<name>:<tick>`, so a tick looked at twice makes one job. */
export function scheduledJob(schedule: Pick<TaskSchedule, 'name' | 'queue' | 'task' | 'args' | 'priority' | 'max_attempts' | 'lease_ms' | 'result_ttl_ms'>, tick: number, now: number): TaskJob {
  const { queue, task, args, priority, max_attempts, lease_ms, result_ttl_ms } = schedule;
  const request: JobRequest = {
    queue,
    task,
    ...(args === undefined ? {} : { args }),
    ...(priority === undefined ? {} : { priority }),
    ...(max_attempts === undefined ? {} : { max_attempts }),
    ...(lease_ms === undefined ? {} : { lease_ms }),
    ...(result_ttl_ms === undefined ? {} : { result_ttl_ms }),
  };
  return { ...newJob(request, `schedule:${schedule.name}:${tick}`, now), schedule: schedule.name };
}

/** True while `worker` holds the lease of attempt `attempt` of the job. */
export function holds(job: TaskJob, worker: string, attempt: number): boolean {
  return job.state === 'active' && job.attempt === attempt && job.worker === worker;
}

/** The next version of a job: the fields changed, the rest kept, `drop` removed. */
function next(job: TaskJob, now: number, changes: Partial<TaskJob>, drop: readonly (keyof TaskJob)[] = []): TaskJob {
  const copy: Record<string, unknown> = { ...job, ...changes, updated_at: now, version: job.version + 1 };
  for (const key of drop) delete copy[key];
  return copy as unknown as TaskJob;
}

export function leased(job: TaskJob, worker: string, now: number): TaskJob {
  return next(job, now, { state: 'active', attempt: job.attempt + 1, worker, lease_until: now + job.lease_ms }, ['progress']);
}

export function extended(job: TaskJob, now: number, progress: unknown): TaskJob {
  return next(job, now, { lease_until: now + job.lease_ms, ...(progress === undefined ? {} : { progress }) });
}

/** Due again: a scheduled or retrying job whose time came. */
export function promoted(job: TaskJob, now: number): TaskJob {
  return next(job, now, { state: 'queued' });
}

export function succeeded(job: TaskJob, now: number, result: unknown): TaskJob {
  return next(job, now, { state: 'succeeded', finished_at: now, ...(result === undefined ? {} : { result }) }, ['lease_until', 'error', 'cancel_requested']);
}

/** A failed attempt: retried after a backoff while attempts remain (and `retry` allows), dead after. Cancelled when cancellation was asked. */
export function failed(job: TaskJob, now: number, error: TaskJob['error'], retry: boolean, random: () => number): TaskJob {
  if (job.cancel_requested) return cancelled(job, now, error);
  if (!retry || job.attempt >= job.max_attempts) return next(job, now, { state: 'dead', finished_at: now, ...(error ? { error } : {}) }, ['lease_until']);
  return next(job, now, { state: 'retrying', run_at: now + backoffMs(job, random), ...(error ? { error } : {}) }, ['lease_until']);
}

/** Given back unstarted: queued again, the attempt not counted. */
export function released(job: TaskJob, now: number): TaskJob {
  if (job.cancel_requested) return cancelled(job, now, undefined);
  return next(job, now, { state: 'queued', attempt: job.attempt - 1, run_at: now }, ['lease_until']);
}

/** The worker stopped heartbeating: run again elsewhere while attempts remain (at once: the worker, not the job, failed). */
export function leaseExpired(job: TaskJob, now: number): TaskJob {
  const error = { type: 'lease_expired', message: `worker ${job.worker ?? '?'} did not extend its lease of attempt ${job.attempt}` };
  if (job.cancel_requested) return cancelled(job, now, error);
  if (job.attempt >= job.max_attempts) return next(job, now, { state: 'dead', finished_at: now, error }, ['lease_until']);
  return next(job, now, { state: 'queued', run_at: now, error }, ['lease_until']);
}

export function cancelled(job: TaskJob, now: number, error: TaskJob['error']): TaskJob {
  return next(job, now, { state: 'cancelled', finished_at: now, ...(error ? { error } : {}) }, ['lease_until', 'cancel_requested']);
}

export function cancelRequested(job: TaskJob, now: number): TaskJob {
  return next(job, now, { cancel_requested: true });
}

/** A workflow step whose jobs all succeeded: queued, with their result(s) as its args when it asked for them. */
export function unblocked(job: TaskJob, now: number, args: unknown): TaskJob {
  return next(job, now, { state: 'queued', run_at: now, ...(args === undefined ? {} : { args }) });
}

/** A dead letter (or a cancelled job) replayed: queued now, attempts counted afresh. */
export function replayed(job: TaskJob, now: number): TaskJob {
  return next(job, now, { state: 'queued', attempt: 0, run_at: now }, ['finished_at', 'result', 'error', 'worker', 'progress', 'cancel_requested']);
}

/** backoff × 2^(attempt−1), at most max_backoff_ms, plus up to 25 % at random. */
export function backoffMs(job: TaskJob, random: () => number): number {
  const base = Math.min(job.max_backoff_ms, job.backoff_ms * 2 ** Math.min(30, Math.max(0, job.attempt - 1)));
  return Math.round(base * (1 + JITTER * random()));
}
