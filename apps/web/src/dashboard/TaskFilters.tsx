// The Tasks panel's queue and state, applied as they change; the queues are those the counts name.
import { TASK_STATES, type TaskFilter, type TaskState } from './taskFilter.js';

export function TaskFilters({ filter, onFilter, queues }: { filter: TaskFilter; onFilter: (filter: TaskFilter) => void; queues: readonly string[] }) {
  // A chosen queue stays offered while it has no jobs (purged, expired).
  const offered = filter.queue === '' || queues.includes(filter.queue) ? queues : [...queues, filter.queue].sort();
  return (
    <form class="log-filters" aria-label="Task filters" onSubmit={(event) => event.preventDefault()}>
      <label>
        Queue
        <select value={filter.queue} onChange={(event) => onFilter({ ...filter, queue: event.currentTarget.value })}>
          <option value="">all queues</option>
          {offered.map((queue) => (
            <option key={queue} value={queue}>
              {queue}
            </option>
          ))}
        </select>
      </label>
      <label>
        State
        <select value={filter.state} onChange={(event) => onFilter({ ...filter, state: event.currentTarget.value as TaskState | '' })}>
          <option value="">all states</option>
          {TASK_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}
