// Producing and inspecting jobs
export { TaskClient, TASKS_SERVICE, FINISHED_STATES, type TaskClientOptions, type EnqueueOptions, type ListOptions, type TaskState, type StepSpec, type FlowHandle, type ScheduleOptions } from './TaskClient.js';
// Running them
export { TaskWorker, type TaskWorkerOptions, type TaskWorkerStats, type JobContext, type JobHandler } from './TaskWorker.js';
export { TaskFailedError, PermanentJobError } from './errors.js';
export type { TaskJob, TaskSchedule, TaskSpec } from '@correio/protocol';
export { parseRate, TokenBucket, type Rate } from './rate.js';
export { job, jobHandlersOf, type JobOptions } from './job.js';
