import { randomBytes } from 'node:crypto';
import { CorreioError, TimeoutError } from '@correio/codec';
import type { BodyOf, MessageType, TaskJob, TaskSchedule, TaskSpec } from '@correio/protocol';
import { backoffDelay, RequestClient, type DirectRoute, type DirectRouteStats, type SocketOptions } from '@correio/transport';
import { coordinatorRoute, TASKS_SERVICE } from './CoordinatorRoute.js';
import { TaskFailedError } from './errors.js';
import { sleep } from './sleep.js';

export { TASKS_SERVICE };

export type TaskState = TaskJob['state'];
export const FINISHED_STATES: ReadonlySet<TaskState> = new Set(['succeeded', 'dead', 'cancelled']);

export interface TaskClientOptions {
  /** The broker endpoint(s). */
  readonly broker: string | readonly string[];
  /** Socket options (CURVE keys). */
  readonly socket?: SocketOptions;
  /**
   * How long a call keeps trying while the queue is away (its coordinator failing over), in ms.
   * Default 30,000. Enqueues are safe to resend: each carries its job id.
   */
  readonly timeoutMs?: number;
  /** The access token of the user the requests act for (a server in password mode needs one). */
  readonly auth?: () => string | undefined;
  /**
   * Send requests straight to the coordinator's direct endpoint while connected there (protocol
   * revision 1.9), saving the broker's two hops; through the broker otherwise. Default true.
   */
  readonly direct?: boolean;
}

export interface EnqueueOptions {
  /** The job's id, and its uniqueness key: enqueueing an id again returns the job that has it. Default: a fresh random id. */
  readonly id?: string;
  /** 0 to 9; higher first. Default 0. */
  readonly priority?: number;
  /** Due this many ms from now (a countdown). */
  readonly delayMs?: number;
  /** Due at this time (an ETA). */
  readonly runAt?: Date | number;
  /** Attempts before the job is dead. Default 3. */
  readonly maxAttempts?: number;
  /** The first retry's delay; doubled each time up to maxBackoffMs, with jitter. Defaults 1,000 and 300,000. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How long a worker's lease lasts without a heartbeat. Default 30,000. */
  readonly leaseMs?: number;
  /** How long the finished job and its result are kept. Default one day. */
  readonly resultTtlMs?: number;
}

/** One job of a chain, group or chord: a queue, a task and its arguments (absent in a chain: the previous result). */
export interface StepSpec {
  readonly queue: string;
  readonly task: string;
  readonly args?: unknown;
  readonly priority?: number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  readonly leaseMs?: number;
  readonly resultTtlMs?: number;
}

/** A workflow enqueued: its id, its jobs' ids in order (the last one's result is the workflow's). */
export interface FlowHandle {
  readonly id: string;
  readonly ids: readonly string[];
  readonly created: boolean;
}

export interface ScheduleOptions {
  readonly args?: unknown;
  readonly priority?: number;
  readonly maxAttempts?: number;
  readonly leaseMs?: number;
  readonly resultTtlMs?: number;
}

export interface ListOptions {
  readonly queue?: string;
  readonly state?: TaskState;
  readonly limit?: number;
  /** The previous page's `next`. */
  readonly after?: string;
}

/** Ms one request may take beyond the long poll it asks for. */
const REQUEST_SLACK_MS = 5_000;
/** Between resends while the queue is away: 100 ms doubling to 2 s, with jitter. */
export const RESEND_BACKOFF = { initialMs: 100, maxMs: 2_000 } as const;
/** The longest single wait a get may ask for (the protocol's maximum). */
const MAX_GET_WAIT_MS = 60_000;

/**
 * A producer's and an operator's side of the task queue (protocol README, revision 1.6): enqueue
 * jobs, wait for their results, cancel, list and replay them. Every request goes through the
 * broker to the `tasks` service, which the cluster's coordinator serves; while it fails over,
 * requests are resent (with the same job id) until `timeoutMs`.
 */
export class TaskClient {
  readonly #client: RequestClient;
  readonly #route: DirectRoute | undefined;
  readonly #options: TaskClientOptions;

  constructor(options: TaskClientOptions) {
    this.#options = options;
    this.#client = new RequestClient({ endpoint: options.broker, timeout: 10_000, ...(options.socket ?? {}) });
    if (options.direct !== false) {
      this.#route = coordinatorRoute({
        broker: this.#client,
        brokerEndpoints: options.broker,
        ...(options.socket ? { socket: options.socket } : {}),
        ...(options.auth ? { auth: options.auth } : {}),
      });
    }
  }

  /** Where requests went: directly to the coordinator or through the broker (undefined with `direct: false`). */
  get route(): DirectRouteStats | undefined {
    return this.#route?.stats;
  }

  /** Enqueues a job; resolves once it is durable on the replicas the queue asks for. */
  async enqueue(queue: string, task: string, args?: unknown, options: EnqueueOptions = {}): Promise<{ job: TaskJob; created: boolean }> {
    const runAt = options.runAt instanceof Date ? options.runAt.getTime() : options.runAt;
    const body: BodyOf<'tasks.enqueue.request'> = {
      queue,
      task,
      ...(args === undefined ? {} : { args }),
      // Chosen here, so that a resend after a lost reply finds the job rather than making another.
      id: options.id ?? `j_${randomBytes(12).toString('base64url')}`,
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.delayMs === undefined ? {} : { delay_ms: options.delayMs }),
      ...(runAt === undefined ? {} : { run_at: runAt }),
      ...(options.maxAttempts === undefined ? {} : { max_attempts: options.maxAttempts }),
      ...(options.backoffMs === undefined ? {} : { backoff_ms: options.backoffMs }),
      ...(options.maxBackoffMs === undefined ? {} : { max_backoff_ms: options.maxBackoffMs }),
      ...(options.leaseMs === undefined ? {} : { lease_ms: options.leaseMs }),
      ...(options.resultTtlMs === undefined ? {} : { result_ttl_ms: options.resultTtlMs }),
    };
    return this.call('tasks.enqueue.request', body);
  }

  /** The job as the queue holds it now; NOT_FOUND for an unknown (or expired) id. */
  async get(id: string): Promise<TaskJob> {
    return (await this.call('tasks.get.request', { id })).job;
  }

  /** Waits until the job is finished (succeeded, dead or cancelled) and returns it; TIMEOUT after `timeoutMs` (default 60 s). */
  async wait(id: string, options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}): Promise<TaskJob> {
    const deadline = performance.now() + (options.timeoutMs ?? 60_000);
    for (let round = 0; round < 100_000; round++) {
      const left = Math.max(0, Math.round(deadline - performance.now()));
      const { job } = await this.call('tasks.get.request', { id, wait_ms: Math.min(left, MAX_GET_WAIT_MS) }, options.signal);
      if (FINISHED_STATES.has(job.state)) return job;
      if (left === 0) break;
    }
    throw new TimeoutError(`job ${id} did not finish within ${options.timeoutMs ?? 60_000} ms`, { data: { id } });
  }

  /** Waits for the job and returns its result; TaskFailedError when it is dead or cancelled. */
  async result<T = unknown>(id: string, options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}): Promise<T> {
    const job = await this.wait(id, options);
    if (job.state !== 'succeeded') throw new TaskFailedError(job);
    return job.result as T;
  }

  /** Cancels a job: at once unless it runs, else its worker is told at its next heartbeat. */
  async cancel(id: string): Promise<TaskJob> {
    return (await this.call('tasks.cancel.request', { id })).job;
  }

  /** Replays a dead (or cancelled) job: queued again, attempts from 0. */
  async retry(id: string): Promise<TaskJob> {
    return (await this.call('tasks.retry.request', { id })).job;
  }

  /**
   * A chain: each step runs once the one before it succeeded, and gets its result as its args when
   * it has none of its own (Celery's a | b | c). A step that is dead or cancelled cancels the rest.
   */
  chain(steps: readonly StepSpec[], options: { readonly id?: string } = {}): Promise<FlowHandle> {
    return this.flow(
      steps.map((step, index) => ({ ...toSpec(`s${index}`, step), ...(index === 0 ? {} : { after: [`s${index - 1}`] as [string], ...(step.args === undefined ? { receives: 'result' as const } : {}) }) })),
      options,
    );
  }

  /** A group: the steps run in parallel, independent of each other. */
  group(steps: readonly StepSpec[], options: { readonly id?: string } = {}): Promise<FlowHandle> {
    return this.flow(steps.map((step, index) => toSpec(`g${index}`, step)), options);
  }

  /** A chord: a group, then `callback` with the list of their results (in order) once all succeeded; cancelled if one is dead. */
  chord(steps: readonly StepSpec[], callback: StepSpec, options: { readonly id?: string } = {}): Promise<FlowHandle> {
    const members = steps.map((step, index) => toSpec(`g${index}`, step));
    return this.flow([...members, { ...toSpec('callback', callback), after: members.map((member) => member.ref) as [string, ...string[]], receives: 'results' }], options);
  }

  /** Any workflow: steps naming the steps (before them) they wait for (protocol tasks.flow.request). */
  async flow(steps: readonly TaskSpec[], options: { readonly id?: string } = {}): Promise<FlowHandle> {
    // The id is chosen here, so that a resend finds the workflow rather than making another.
    const id = options.id ?? `f_${randomBytes(9).toString('base64url')}`;
    return this.call('tasks.flow.request', { id, jobs: steps as [TaskSpec, ...TaskSpec[]] });
  }

  /** Creates or replaces a periodic schedule: a job at every tick of `cron` (UTC; five fields, or six with seconds). */
  async schedule(name: string, cron: string, queue: string, task: string, options: ScheduleOptions = {}): Promise<TaskSchedule> {
    const body: BodyOf<'tasks.schedule.request'> = {
      name,
      cron,
      queue,
      task,
      ...(options.args === undefined ? {} : { args: options.args }),
      ...(options.priority === undefined ? {} : { priority: options.priority }),
      ...(options.maxAttempts === undefined ? {} : { max_attempts: options.maxAttempts }),
      ...(options.leaseMs === undefined ? {} : { lease_ms: options.leaseMs }),
      ...(options.resultTtlMs === undefined ? {} : { result_ttl_ms: options.resultTtlMs }),
    };
    return (await this.call('tasks.schedule.request', body)).schedule;
  }

  async unschedule(name: string): Promise<boolean> {
    return (await this.call('tasks.unschedule.request', { name })).removed;
  }

  async schedules(): Promise<TaskSchedule[]> {
    return (await this.call('tasks.schedules.request', {})).schedules;
  }

  /** Cancels a queue's waiting jobs (or, with state `dead`, its dead letters), up to 1,000 a call: `more` says some remain. */
  purge(queue: string, state?: 'scheduled' | 'queued' | 'retrying' | 'dead'): Promise<BodyOf<'tasks.purge.reply'>> {
    return this.call('tasks.purge.request', { queue, ...(state === undefined ? {} : { state }) });
  }

  /** A page of jobs, with the counts per queue and state. */
  list(options: ListOptions = {}): Promise<BodyOf<'tasks.list.reply'>> {
    return this.call('tasks.list.request', {
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      ...(options.state === undefined ? {} : { state: options.state }),
      ...(options.limit === undefined ? {} : { limit: options.limit }),
      ...(options.after === undefined ? {} : { after: options.after }),
    });
  }

  /**
   * One request to the `tasks` service, resent while the answer is retryable (UNAVAILABLE while
   * the coordinator fails over, a timeout) until the client's timeoutMs.
   */
  async call<T extends MessageType>(type: T, body: BodyOf<T>, signal?: AbortSignal): Promise<ReplyOf<T>> {
    const deadline = performance.now() + (this.#options.timeoutMs ?? 30_000);
    const poll = 'wait_ms' in body && typeof body.wait_ms === 'number' ? body.wait_ms : 0;
    let lastError: unknown;
    for (let attempt = 0; attempt < 1_000; attempt++) {
      const auth = this.#options.auth?.();
      try {
        const options = { timeout: poll + REQUEST_SLACK_MS, ...(auth === undefined ? {} : { auth }), ...(signal ? { signal } : {}) };
        const reply = await (this.#route ? this.#route.request(type, body, options) : this.#client.request(TASKS_SERVICE, type, body, options));
        return reply.body as ReplyOf<T>;
      } catch (error) {
        lastError = error;
        const retryable = error instanceof CorreioError ? error.retryable : false;
        if (!retryable || signal?.aborted || performance.now() >= deadline) throw error;
        await sleep(backoffDelay(attempt + 1, RESEND_BACKOFF));
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    await this.#route?.close();
    await this.#client.close();
  }
}

function toSpec(ref: string, step: StepSpec): TaskSpec {
  return {
    ref,
    queue: step.queue,
    task: step.task,
    ...(step.args === undefined ? {} : { args: step.args }),
    ...(step.priority === undefined ? {} : { priority: step.priority }),
    ...(step.maxAttempts === undefined ? {} : { max_attempts: step.maxAttempts }),
    ...(step.backoffMs === undefined ? {} : { backoff_ms: step.backoffMs }),
    ...(step.leaseMs === undefined ? {} : { lease_ms: step.leaseMs }),
    ...(step.resultTtlMs === undefined ? {} : { result_ttl_ms: step.resultTtlMs }),
  };
}

type ReplyOf<T extends MessageType> = T extends `${infer Stem}.request` ? (`${Stem}.reply` extends MessageType ? BodyOf<`${Stem}.reply`> : never) : never;
