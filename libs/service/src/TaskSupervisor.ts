import { CorreioError } from '@correio/codec';
import type { Logger } from 'pino';
import { exponentialBackoff, sleep, type Backoff } from './backoff.js';
import type { TaskDefinition } from './definition.js';
import { toMillis } from './duration.js';

/**
 * running: the handler is executing; idle: a periodic task waits for its next tick; backoff: waiting
 * to restart after a failure; completed: a long-running task returned; stopped: cancelled by stop().
 */
export type TaskState = 'running' | 'idle' | 'backoff' | 'completed' | 'stopped';

export interface TaskStatus {
  readonly state: TaskState;
  /** Runs started, restarts included. */
  readonly runs: number;
  /** Restarts after failures. */
  readonly restarts: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | undefined;
  /** When the task runs next (backoff or periodic), ms since the epoch. */
  readonly nextRunAt: number | undefined;
}

export interface TaskSupervisorOptions {
  readonly name: string;
  readonly definition: TaskDefinition;
  /** Builds the context of one run. */
  readonly context: (signal: AbortSignal, run: number) => unknown;
  readonly logger: Logger;
  /** Told about each restart, such as to count it. */
  readonly onRestart?: (error: CorreioError) => void;
  readonly random?: () => number;
}

/**
 * Runs one background task under supervision: starts it, restarts it with backoff when it throws,
 * and on stop() aborts its signal and waits (bounded) for the current run to end.
 */
export class TaskSupervisor {
  readonly #options: TaskSupervisorOptions;
  readonly #every: number | undefined;
  readonly #backoff: Backoff;
  /** A long-running task that ran this long before failing restarts its backoff from the start. */
  readonly #stableAfter: number;
  readonly #controller = new AbortController();
  #state: TaskState = 'idle';
  #runs = 0;
  #restarts = 0;
  #lastError: TaskStatus['lastError'];
  #nextRunAt: number | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: TaskSupervisorOptions) {
    this.#options = options;
    const every = options.definition.every;
    this.#every = every === undefined ? undefined : toMillis(every, `the period of task ${options.name}`);
    if (this.#every === 0) throw new RangeError(`task ${options.name}: every must be more than 0`);
    const backoff = { initial: 100, max: 30_000, ...options.definition.backoff };
    this.#backoff = exponentialBackoff(backoff, options.random);
    this.#stableAfter = toMillis(backoff.max, `the backoff of task ${options.name}`);
  }

  start(): void {
    if (this.#loop) return;
    this.#loop = this.#supervise().catch((error: unknown) => {
      this.#options.logger.error({ task: this.#options.name, err: error }, 'task supervisor failed');
    });
  }

  /** Cancels the task and waits up to `graceMs` for its current run to notice. True if it ended in time. */
  async stop(graceMs: number): Promise<boolean> {
    this.#controller.abort(new CorreioError('UNAVAILABLE', `task ${this.#options.name} is stopping`));
    if (!this.#loop) {
      this.#state = 'stopped';
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      this.#loop.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!ended) this.#options.logger.warn({ task: this.#options.name, graceMs }, 'task ignored its abort signal; leaving it behind');
    this.#state = 'stopped';
    this.#nextRunAt = undefined;
    return ended;
  }

  status(): TaskStatus {
    return { state: this.#state, runs: this.#runs, restarts: this.#restarts, lastError: this.#lastError, nextRunAt: this.#nextRunAt };
  }

  async #supervise(): Promise<void> {
    const signal = this.#controller.signal;
    const every = this.#every;
    let failures = 0;
    let nextTick = Date.now() + (every !== undefined && !this.#options.definition.immediate ? every : 0);
    while (!signal.aborted) {
      if (await this.#wait(nextTick - Date.now(), 'idle')) return;
      const started = Date.now();
      const failure = await this.#runOnce();
      if (signal.aborted) return;
      if (failure === undefined) {
        failures = 0;
        if (every === undefined) {
          this.#state = 'completed';
          return;
        }
        // Fixed rate: the next tick after now, skipping ticks an overlong run missed.
        nextTick = started + every * Math.max(1, Math.ceil((Date.now() - started) / every));
        continue;
      }
      // A long-running task that ran well for a while before failing starts its backoff afresh.
      if (every === undefined && Date.now() - started > this.#stableAfter) failures = 0;
      failures++;
      this.#restarts++;
      this.#options.onRestart?.(failure);
      const delay = this.#backoff(failures);
      this.#options.logger.warn({ task: this.#options.name, err: failure.cause ?? failure, restartInMs: delay, restarts: this.#restarts }, 'task failed; restarting after backoff');
      nextTick = Date.now() + delay;
      if (await this.#wait(delay, 'backoff')) return;
      nextTick = Date.now();
    }
  }

  /** Waits `ms` in `state`; true when the task was stopped meanwhile. */
  async #wait(ms: number, state: TaskState): Promise<boolean> {
    if (ms <= 0) return this.#controller.signal.aborted;
    this.#state = state;
    this.#nextRunAt = Date.now() + ms;
    try {
      await sleep(ms, this.#controller.signal);
      return false;
    } catch {
      return true;
    } finally {
      this.#nextRunAt = undefined;
    }
  }

  /** One run; the failure, if it failed for a reason other than being stopped. */
  async #runOnce(): Promise<CorreioError | undefined> {
    const signal = this.#controller.signal;
    this.#state = 'running';
    this.#runs++;
    try {
      await this.#options.definition.handler(this.#options.context(signal, this.#runs) as never);
      return undefined;
    } catch (thrown) {
      if (signal.aborted) return undefined;
      const error = CorreioError.from(thrown);
      this.#lastError = { code: error.code, message: error.message, at: Date.now() };
      return error;
    }
  }
}
