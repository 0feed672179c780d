// Producing and inspecting jobs
export { TaskClient, TASKS_SERVICE, FINISHED_STATES, type TaskClientOptions, type EnqueueOptions, type ListOptions, type TaskState } from './TaskClient.js';
// Running them
export { TaskWorker, type TaskWorkerOptions, type TaskWorkerStats, type JobContext, type JobHandler } from './TaskWorker.js';
export { TaskFailedError, PermanentJobError } from './errors.js';
export type { TaskJob } from '@correio/protocol';
