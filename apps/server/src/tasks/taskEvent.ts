import type { BodyOf, TaskJob } from '@correio/protocol';

/** A job's change as `tasks.event` announces it: the state, not the arguments or the result (read those with tasks.get). */
export function taskEvent(job: TaskJob): BodyOf<'tasks.event'> {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    state: job.state,
    attempt: job.attempt,
    version: job.version,
    at: job.updated_at,
    ...(job.worker === undefined ? {} : { worker: job.worker }),
    ...(job.progress === undefined ? {} : { progress: job.progress }),
    ...(job.error === undefined ? {} : { error: job.error }),
  };
}
