// The task queues (protocol 1.6, the gateway's /v1/tasks routes), what Flower is to Celery: the jobs
// per queue and state, the jobs of a chosen queue and state most recently changed first, a job's
// details, and Retry and Cancel, read again every 2 s while the page is visible (as the Logs panel).
// Errors (a gateway away, no coordinator yet) are shown here, never thrown.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { TaskJob, TasksGetReply, TasksListReply } from '@correio/protocol';
import { ApiError, type Api } from '../api.js';
import { LogPoller } from './LogPoller.js';
import type { TaskActionListener } from './TaskActions.js';
import { TaskCounts } from './TaskCounts.js';
import { TaskDetails } from './TaskDetails.js';
import { TaskFilters } from './TaskFilters.js';
import { TaskJobs } from './TaskJobs.js';
import { DEFAULT_TASK_FILTER, heldCount, newestFirst, TASK_PAGE_JOBS, taskQuery, type TaskFilter } from './taskFilter.js';

/** One poll: the page of jobs, and the selected job when the page does not hold it (undefined: no longer held). */
interface TasksRead {
  readonly list: TasksListReply;
  readonly selected?: { readonly id: string; readonly job: TaskJob | undefined };
}

const reasonOf = (error: unknown) => (error instanceof ApiError ? `${error.message} (${error.status})` : error instanceof Error ? error.message : String(error));

async function readTasks(api: Api, query: string, selectedId: string | undefined): Promise<TasksRead> {
  const list = await api.get<TasksListReply>(`/v1/tasks?${query}`);
  if (!Array.isArray(list.jobs)) throw new Error('the gateway sent no jobs');
  if (selectedId === undefined || list.jobs.some((job) => job.id === selectedId)) return { list };
  try {
    return { list, selected: { id: selectedId, job: (await api.get<TasksGetReply>(`/v1/tasks/${encodeURIComponent(selectedId)}`)).job } };
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { list, selected: { id: selectedId, job: undefined } };
    throw error;
  }
}

export function TasksPanel({ api }: { api: Api }) {
  const [filter, setFilter] = useState<TaskFilter>(DEFAULT_TASK_FILTER);
  const [list, setList] = useState<TasksListReply | undefined>(undefined);
  const [selected, setSelected] = useState<{ job: TaskJob; gone: boolean } | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const selectedId = useRef<string | undefined>(undefined);
  selectedId.current = selected?.job.id;
  const poller = useRef<LogPoller<TasksRead> | undefined>(undefined);
  const details = useRef<HTMLElement>(null);
  const query = taskQuery(filter);

  useEffect(() => {
    const reader = new LogPoller((next) => readTasks(api, next, selectedId.current), {
      reply: ({ list: next, selected: off }) => {
        setList(next);
        setProblem(undefined);
        setSelected((current) => {
          if (current === undefined) return current;
          const onPage = next.jobs.find((job) => job.id === current.job.id);
          if (onPage !== undefined) return onPage.version >= current.job.version ? { job: onPage, gone: false } : current;
          if (off?.id !== current.job.id) return current;
          return off.job === undefined ? { ...current, gone: true } : { job: off.job, gone: false };
        });
      },
      error: (error) => setProblem(`The task queues could not be read: ${reasonOf(error)}. Trying again every 2 s.`),
    });
    poller.current = reader;
    reader.start(query);
    return () => reader.stop();
  }, [api]);

  useEffect(() => poller.current?.setQuery(query), [query]);

  const jobs = useMemo(() => (list === undefined ? [] : [...list.jobs].sort(newestFirst)), [list]);
  const listener: TaskActionListener = {
    done: (job, action) => {
      setNotice(action === 'retry' ? `Job ${job.id} queued again.` : job.state === 'cancelled' ? `Job ${job.id} cancelled.` : `Job ${job.id}: cancellation asked; its worker is told at its next heartbeat.`);
      setSelected((current) => (current?.job.id === job.id ? { job, gone: false } : current));
      poller.current?.refresh();
    },
    failed: (id, action, error) => setNotice(`Could not ${action} job ${id}: ${reasonOf(error)}.`),
  };
  const select = (job: TaskJob) => {
    setSelected({ job, gone: false });
    requestAnimationFrame(() => details.current?.focus());
  };

  return (
    <section class="tasks-section" id="tasks" aria-labelledby="tasks-heading">
      <h2 id="tasks-heading">Tasks</h2>
      {problem !== undefined && (
        <p class="log-problem" role="status">
          {problem}
        </p>
      )}
      {list !== undefined && <TaskCounts counts={list.counts} filter={filter} onFilter={setFilter} />}
      <TaskFilters filter={filter} onFilter={setFilter} queues={list === undefined ? [] : Object.keys(list.counts).sort()} />
      <p class="log-count" role="status" aria-live="polite">
        {notice !== undefined && `${notice} `}
        {list === undefined ? 'Reading the task queues…' : jobs.length === 0 ? 'No jobs match.' : `${jobs.length} ${jobs.length === 1 ? 'job' : 'jobs'}, most recently changed first${list.next !== undefined ? ` (the first ${TASK_PAGE_JOBS} by id of ${heldCount(list.counts, filter)}: choose a queue and state to narrow)` : ''}`}
      </p>
      <div class="tasks-body">
        {jobs.length > 0 && <TaskJobs api={api} jobs={jobs} selectedId={selected?.job.id} onSelect={select} listener={listener} />}
        {selected !== undefined && <TaskDetails api={api} panel={details} job={selected.job} gone={selected.gone} onClose={() => setSelected(undefined)} listener={listener} />}
      </div>
    </section>
  );
}
