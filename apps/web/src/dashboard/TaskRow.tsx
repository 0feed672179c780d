// One job of the Tasks panel: its id (a button that opens its details), task, state, attempts, when
// it last changed, its last error, and what can be done to it.
import type { TaskJob } from '@correio/protocol';
import type { Api } from '../api.js';
import { formatClock } from './format.js';
import { TaskActions, type TaskActionListener } from './TaskActions.js';

export function TaskRow({ api, job, selected, onSelect, listener }: { api: Api; job: TaskJob; selected: boolean; onSelect: (job: TaskJob) => void; listener: TaskActionListener }) {
  const iso = new Date(job.updated_at).toISOString();
  return (
    <tr class={`task-job state-${job.state}${selected ? ' selected' : ''}`} data-job={job.id}>
      <td class="task-id">
        <button type="button" class="link" title={`Show job ${job.id}`} onClick={() => onSelect(job)}>
          {job.id}
        </button>
      </td>
      <td>{job.task}</td>
      <td class="task-state">
        {job.state}
        {job.cancel_requested === true && ' (cancelling)'}
      </td>
      <td class="task-attempts num">
        {job.attempt}/{job.max_attempts}
      </td>
      <td class="task-time">
        <time dateTime={iso} title={iso}>
          {formatClock(job.updated_at)}
        </time>
      </td>
      <td class="task-error">{job.error === undefined ? '' : `${job.error.type}: ${job.error.message}`}</td>
      <td>
        <TaskActions api={api} job={job} listener={listener} />
      </td>
    </tr>
  );
}
