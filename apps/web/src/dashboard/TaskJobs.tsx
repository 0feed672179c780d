// The jobs of the chosen queue and state, as a table that scrolls on its own.
import type { TaskJob } from '@correio/protocol';
import type { Api } from '../api.js';
import type { TaskActionListener } from './TaskActions.js';
import { TaskRow } from './TaskRow.js';

export function TaskJobs({ api, jobs, selectedId, onSelect, listener }: { api: Api; jobs: readonly TaskJob[]; selectedId: string | undefined; onSelect: (job: TaskJob) => void; listener: TaskActionListener }) {
  return (
    <div class="log-scroll" role="region" aria-label="Jobs" tabIndex={0}>
      <table class="data logs tasks">
        <caption class="visually-hidden">Jobs, most recently changed first</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Task</th>
            <th scope="col">State</th>
            <th scope="col">Attempt</th>
            <th scope="col">Updated</th>
            <th scope="col">Error</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <TaskRow key={job.id} api={api} job={job} selected={job.id === selectedId} onSelect={onSelect} listener={listener} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
