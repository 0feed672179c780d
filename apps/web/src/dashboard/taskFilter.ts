// What the Tasks panel asks GET /v1/tasks for (tasks.list.request), and what a job's state allows.
import type { TaskJob, TasksListReply } from '@correio/protocol';

export type TaskState = TaskJob['state'];

/** Every state, in a job's life order (defs.json taskState): the counts table's columns. */
export const TASK_STATES: readonly TaskState[] = ['waiting', 'scheduled', 'queued', 'active', 'retrying', 'succeeded', 'dead', 'cancelled'];

export interface TaskFilter {
  /** One queue, or '' for all. */
  readonly queue: string;
  /** One state, or '' for all. */
  readonly state: TaskState | '';
}

export const DEFAULT_TASK_FILTER: TaskFilter = { queue: '', state: '' };

/** Jobs read per poll: the list is in id order, so the panel sorts this page by time itself. */
export const TASK_PAGE_JOBS = 500;

/** The query string of `GET /v1/tasks` for `filter` (empty filters left out, as the schema wants). */
export function taskQuery(filter: TaskFilter): string {
  const query = new URLSearchParams({ limit: String(TASK_PAGE_JOBS) });
  if (filter.queue !== '') query.set('queue', filter.queue);
  if (filter.state !== '') query.set('state', filter.state);
  return query.toString();
}

/** tasks.retry replays only dead letters and cancelled jobs. */
export const canRetry = (job: TaskJob) => job.state === 'dead' || job.state === 'cancelled';

/** tasks.cancel stops any job not finished (an active one at its worker's next heartbeat). */
export const canCancel = (job: TaskJob) => job.state !== 'succeeded' && job.state !== 'dead' && job.state !== 'cancelled' && job.cancel_requested !== true;

/** Most recently changed first, then by id: the same order whatever order the page came in. */
export const newestFirst = (a: TaskJob, b: TaskJob) => b.updated_at - a.updated_at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** How many jobs the queues hold that match `filter`, by the list reply's counts. */
export function heldCount(counts: TasksListReply['counts'], filter: TaskFilter): number {
  let held = 0;
  for (const [queue, states] of Object.entries(counts)) {
    if (filter.queue !== '' && queue !== filter.queue) continue;
    for (const [state, count] of Object.entries(states ?? {})) if (filter.state === '' || state === filter.state) held += count;
  }
  return held;
}
