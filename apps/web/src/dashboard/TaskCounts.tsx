// Jobs held per queue and state (tasks.list.reply counts): each non-zero count a button that shows
// those jobs, each queue's name one that shows all of its jobs.
import type { TasksListReply } from '@correio/protocol';
import { TASK_STATES, type TaskFilter, type TaskState } from './taskFilter.js';

export function TaskCounts({ counts, filter, onFilter }: { counts: TasksListReply['counts']; filter: TaskFilter; onFilter: (filter: TaskFilter) => void }) {
  const queues = Object.keys(counts).sort();
  if (queues.length === 0) return <p class="empty">No jobs on any queue yet.</p>;
  const chosen = (queue: string, state: TaskState | '') => filter.queue === queue && filter.state === state;
  return (
    <div class="task-counts-scroll" role="region" aria-label="Jobs per queue and state" tabIndex={0}>
      <table class="data task-counts">
        <caption>Jobs per queue and state</caption>
        <thead>
          <tr>
            <th scope="col">Queue</th>
            {TASK_STATES.map((state) => (
              <th key={state} scope="col" class="num">
                {state}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {queues.map((queue) => (
            <tr key={queue} data-queue={queue}>
              <th scope="row">
                <button type="button" class="link" aria-pressed={chosen(queue, '')} onClick={() => onFilter({ queue, state: '' })}>
                  {queue}
                </button>
              </th>
              {TASK_STATES.map((state) => {
                const count = counts[queue]?.[state] ?? 0;
                return (
                  <td key={state} class={`num task-count state-${state}`} data-state={state}>
                    {count === 0 ? (
                      <span class="zero">0</span>
                    ) : (
                      <button type="button" class="link" aria-label={`${count} ${state} in ${queue}`} aria-pressed={chosen(queue, state)} onClick={() => onFilter({ queue, state })}>
                        {count}
                      </button>
                    )}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
