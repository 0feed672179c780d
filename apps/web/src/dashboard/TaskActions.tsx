// Retry (a dead letter or a cancelled job) and Cancel (a job not finished) for one job; the answer,
// the job as it is now or why not, goes to the panel.
import { useState } from 'preact/hooks';
import type { TaskJob, TasksRetryReply } from '@correio/protocol';
import type { Api } from '../api.js';
import { canCancel, canRetry } from './taskFilter.js';

export interface TaskActionListener {
  done(job: TaskJob, action: 'retry' | 'cancel'): void;
  failed(id: string, action: 'retry' | 'cancel', error: unknown): void;
}

export function TaskActions({ api, job, listener }: { api: Api; job: TaskJob; listener: TaskActionListener }) {
  const [busy, setBusy] = useState(false);
  const act = async (action: 'retry' | 'cancel') => {
    setBusy(true);
    try {
      // tasks.cancel.reply has the same {job} shape as tasks.retry.reply.
      listener.done((await api.post<TasksRetryReply>(`/v1/tasks/${encodeURIComponent(job.id)}/${action}`, {})).job, action);
    } catch (error) {
      listener.failed(job.id, action, error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="task-actions">
      {canRetry(job) && (
        <button type="button" disabled={busy} aria-label={`Retry job ${job.id}`} onClick={() => void act('retry')}>
          Retry
        </button>
      )}
      {canCancel(job) && (
        <button type="button" disabled={busy} aria-label={`Cancel job ${job.id}`} onClick={() => void act('cancel')}>
          Cancel
        </button>
      )}
    </span>
  );
}
