// The selected job: its facts and its values (arguments, progress, result, error) as JSON.
import type { RefObject } from 'preact';
import type { TaskJob } from '@correio/protocol';
import type { Api } from '../api.js';
import { Facts } from './Facts.js';
import { formatTime } from './format.js';
import { TaskActions, type TaskActionListener } from './TaskActions.js';

const when = (ms: number | undefined) => (ms === undefined ? '–' : `${formatTime(ms)} (${new Date(ms).toISOString()})`);

function Value({ name, value }: { name: string; value: unknown }) {
  if (value === undefined) return null;
  return (
    <div class="task-value" data-value={name}>
      <h4>{name}</h4>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </div>
  );
}

export function TaskDetails({ api, panel, job, gone, onClose, listener }: { api: Api; panel: RefObject<HTMLElement>; job: TaskJob; gone: boolean; onClose: () => void; listener: TaskActionListener }) {
  const facts: [string, string][] = [
    ['Queue', job.queue],
    ['Task', job.task],
    ['State', job.cancel_requested === true ? `${job.state} (cancel requested)` : job.state],
    ['Attempt', `${job.attempt} of ${job.max_attempts}`],
    ['Priority', String(job.priority)],
    ['Worker', job.worker ?? '–'],
    ['Created', when(job.created_at)],
    ['Due', when(job.run_at)],
    ['Updated', when(job.updated_at)],
    ['Finished', when(job.finished_at)],
    ['Version', String(job.version)],
  ];
  if (job.schedule !== undefined) facts.push(['Schedule', job.schedule]);
  if (job.after !== undefined) facts.push(['Waits for', job.after.join(', ')]);
  return (
    <section class="details task-details" id="task-details" ref={panel} tabIndex={-1} aria-labelledby="task-details-heading">
      <h3 id="task-details-heading">Job {job.id}</h3>
      <button type="button" class="link close" onClick={onClose}>
        Close job details
      </button>{' '}
      <TaskActions api={api} job={job} listener={listener} />
      {gone && <p class="log-problem">The queue no longer holds this job (its result outlived its time to live).</p>}
      <Facts facts={facts} />
      <Value name="Arguments" value={job.args} />
      <Value name="Progress" value={job.progress} />
      <Value name="Result" value={job.result} />
      <Value name="Error" value={job.error} />
    </section>
  );
}
