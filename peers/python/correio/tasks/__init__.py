"""Correio's durable task queue (protocol revision 1.6) for Python: ``TaskClient`` (or
``AsyncTaskClient``) to enqueue jobs and wait for their results, ``TaskWorker`` to run them.
The same semantics as @correio/tasks (libs/tasks), so producers and workers of either language
share queues."""

from .client import FINISHED_STATES, TASKS_SERVICE, AsyncTaskClient, TaskClient, new_job_id
from .errors import JobCancelled, PermanentJobError, TaskFailed
from .worker import JobContext, TaskWorker, TaskWorkerStats

__all__ = [
    "AsyncTaskClient",
    "FINISHED_STATES",
    "JobCancelled",
    "JobContext",
    "PermanentJobError",
    "TASKS_SERVICE",
    "TaskClient",
    "TaskFailed",
    "TaskWorker",
    "TaskWorkerStats",
    "new_job_id",
]
