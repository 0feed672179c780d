"""The task queue's own exceptions (protocol revision 1.6), besides the wire's CorreioError."""

from __future__ import annotations

from typing import Any, Mapping


class TaskFailed(Exception):
    """A job that did not succeed: dead (its last attempt failed) or cancelled; ``job["error"]`` says why."""

    def __init__(self, job: Mapping[str, Any]) -> None:
        error = job.get("error")
        reason = f": {error['type']}: {error['message']}" if error else ""
        super().__init__(f"job {job['id']} ({job['task']}) is {job['state']}{reason}")
        self.job = dict(job)


class PermanentJobError(Exception):
    """Raised by a handler to fail its job for good: no retry, however many attempts remain (bad
    input that no retry fixes). Any exception with a ``retry`` attribute of ``False`` does the same;
    every other one is retried while attempts remain."""

    retry = False


class JobCancelled(Exception):
    """Raised by ``JobContext.raise_if_cancelled()`` once the job was cancelled, its lease was lost or
    the worker is stopping past its grace: the attempt ends (cancelled, dropped or released)."""
