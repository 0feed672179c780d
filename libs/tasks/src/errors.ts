import type { TaskJob } from '@correio/protocol';

/** A job that did not succeed: dead (its last attempt failed) or cancelled. `job.error` says why. */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';
  readonly job: TaskJob;

  constructor(job: TaskJob) {
    super(`job ${job.id} (${job.task}) is ${job.state}${job.error ? `: ${job.error.type}: ${job.error.message}` : ''}`);
    this.job = job;
  }
}

/**
 * Thrown by a job handler to fail the job for good: no retry, however many attempts remain (bad
 * input that no retry fixes). Any other error is retried while attempts remain.
 */
export class PermanentJobError extends Error {
  override readonly name: string = 'PermanentJobError';
  readonly retry = false;
}
