"""The producer's and operator's side of the task queue (protocol README, revision 1.6), as
libs/tasks/src/TaskClient.ts: enqueue jobs, wait for their results, cancel, list and replay them.

Every request goes through the broker to the ``tasks`` service, which the cluster's elected
coordinator serves. While it fails over, a request answered with a retryable error (UNAVAILABLE,
TIMEOUT, …) is sent again with backoff until the client's ``timeout``: safe for an enqueue because
the client picks the job id itself, so a resend after a lost reply finds the job instead of making
another. Bodies are checked against the schemas both ways by ``MdpClient``.

``AsyncTaskClient`` is for asyncio programs; ``TaskClient`` is the same client behind blocking
methods (its socket lives in a thread of its own, so any thread may call it).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from datetime import datetime
from typing import Any, Callable, Mapping

import zmq.asyncio

from ..client import MdpClient
from ..envelope import Stamp, new_node_id
from ..errors import CorreioError
from ..generated.defs import TaskJob
from ..generated.tasks_enqueue_reply import TasksEnqueueReply
from ..generated.tasks_list_reply import TasksListReply
from ._loop import LoopThread
from .errors import TaskFailed

#: The broker service of the task queue (FRAMES.md section 4.3).
TASKS_SERVICE = "tasks"
#: A job in one of these states changes no more.
FINISHED_STATES = frozenset({"succeeded", "dead", "cancelled"})

#: Seconds one request may take beyond the long poll it asks for.
REQUEST_SLACK = 5.0
#: The longest single wait a get may ask for (the protocol's maximum), ms.
MAX_GET_WAIT_MS = 60_000
#: Resends of one request at most, whatever the deadline (every loop is bounded).
MAX_ATTEMPTS = 1_000

Auth = Callable[[], "str | None"] | str | None


def new_job_id() -> str:
    """``j_`` and 12 random bytes in URL-safe base64, as the TypeScript client makes them."""
    return "j_" + base64.urlsafe_b64encode(secrets.token_bytes(12)).rstrip(b"=").decode("ascii")


def _ms(value: datetime | int | float) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


class AsyncTaskClient:
    """``async with AsyncTaskClient("tcp://127.0.0.1:5555") as tasks: job = await tasks.enqueue(...)``.

    ``timeout`` (seconds, default 30) is how long one call keeps resending while the queue is away;
    ``auth`` is the access token (or a function returning it) of the user the requests act for.
    """

    def __init__(
        self,
        broker: str,
        *,
        timeout: float = 30.0,
        auth: Auth = None,
        sender: str | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.timeout = timeout
        self._auth = auth
        self._requests = MdpClient(broker, stamp=Stamp(sender or new_node_id("py-tasks")), timeout=10.0, retries=0, context=context)

    async def __aenter__(self) -> "AsyncTaskClient":
        self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def connect(self) -> None:
        self._requests.connect()

    async def close(self) -> None:
        await self._requests.close()

    async def enqueue(
        self,
        queue: str,
        task: str,
        args: Any = None,
        *,
        id: str | None = None,
        priority: int | None = None,
        delay_ms: int | None = None,
        run_at: datetime | int | None = None,
        max_attempts: int | None = None,
        backoff_ms: int | None = None,
        max_backoff_ms: int | None = None,
        lease_ms: int | None = None,
        result_ttl_ms: int | None = None,
    ) -> TasksEnqueueReply:
        """Enqueues a job; returns ``{"job", "created"}`` once it is durable. An id enqueued again returns
        the job that has it (``created`` false). ``args=None`` sends no arguments (v1 has no floats:
        numbers are ints)."""
        body: dict[str, Any] = {"queue": queue, "task": task, "id": id if id is not None else new_job_id()}
        if args is not None:
            body["args"] = args
        options = {"priority": priority, "delay_ms": delay_ms, "max_attempts": max_attempts, "backoff_ms": backoff_ms,
                   "max_backoff_ms": max_backoff_ms, "lease_ms": lease_ms, "result_ttl_ms": result_ttl_ms}
        body.update({name: value for name, value in options.items() if value is not None})
        if run_at is not None:
            body["run_at"] = _ms(run_at)
        return await self.call("tasks.enqueue.request", body)  # type: ignore[return-value]

    async def get(self, id: str) -> TaskJob:
        """The job as the queue holds it now; CorreioError NOT_FOUND for an unknown (or expired) id."""
        return (await self.call("tasks.get.request", {"id": id}))["job"]

    async def wait(self, id: str, timeout: float = 60.0) -> TaskJob:
        """Waits (long polls) until the job is succeeded, dead or cancelled and returns it; TIMEOUT after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        for _ in range(100_000):
            left = max(0, round((deadline - time.monotonic()) * 1000))
            job: TaskJob = (await self.call("tasks.get.request", {"id": id, "wait_ms": min(left, MAX_GET_WAIT_MS)}))["job"]
            if job["state"] in FINISHED_STATES:
                return job
            if left == 0:
                break
        raise CorreioError("TIMEOUT", f"job {id} did not finish within {timeout} s", data={"id": id})

    async def result(self, id: str, timeout: float = 60.0) -> Any:
        """Waits for the job and returns its result (None when it has none); TaskFailed when it is dead or cancelled."""
        job = await self.wait(id, timeout)
        if job["state"] != "succeeded":
            raise TaskFailed(job)
        return job.get("result")

    async def cancel(self, id: str) -> TaskJob:
        """Cancels a job: at once unless it runs, else its worker is told at its next heartbeat."""
        return (await self.call("tasks.cancel.request", {"id": id}))["job"]

    async def retry(self, id: str) -> TaskJob:
        """Replays a dead (or cancelled) job: queued again, attempts from 0. CONFLICT for any other state."""
        return (await self.call("tasks.retry.request", {"id": id}))["job"]

    async def list(self, *, queue: str | None = None, state: str | None = None, limit: int | None = None, after: str | None = None) -> TasksListReply:
        """A page of jobs ordered by id (``next``: the ``after`` of the next page), with the counts per queue and state."""
        options = {"queue": queue, "state": state, "limit": limit, "after": after}
        return await self.call("tasks.list.request", {name: value for name, value in options.items() if value is not None})  # type: ignore[return-value]

    async def call(self, message_type: str, body: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """One request to the ``tasks`` service, sent again while the answer is retryable until ``timeout``
        (the client's by default); returns the reply body."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        poll = body.get("wait_ms", 0) / 1000
        for attempt in range(MAX_ATTEMPTS):
            try:
                return await self._requests.call(TASKS_SERVICE, message_type, body, timeout=poll + REQUEST_SLACK, retries=0, auth=self._token())
            except CorreioError as error:
                if not error.retryable or time.monotonic() >= deadline or attempt == MAX_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(min(2.0, 0.1 * 2 ** min(attempt, 5)))
        raise AssertionError("unreachable")

    def _token(self) -> str | None:
        return self._auth() if callable(self._auth) else self._auth


class TaskClient:
    """The blocking task client: ``with TaskClient("tcp://127.0.0.1:5555") as tasks: tasks.result(tasks.enqueue("email", "email.send", {...})["job"]["id"])``.

    The same methods and arguments as ``AsyncTaskClient``, each waiting for its answer; thread-safe.
    """

    def __init__(self, broker: str, *, timeout: float = 30.0, auth: Auth = None, sender: str | None = None) -> None:
        self._loop = LoopThread("correio-task-client")
        try:
            self._client = self._loop.run(self._open(broker, timeout, auth, sender))
        except BaseException:
            self._loop.close()
            raise

    @staticmethod
    async def _open(broker: str, timeout: float, auth: Auth, sender: str | None) -> AsyncTaskClient:
        client = AsyncTaskClient(broker, timeout=timeout, auth=auth, sender=sender)
        client.connect()
        return client

    def __enter__(self) -> "TaskClient":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            try:
                self._loop.run(self._client.close(), timeout=10)
            finally:
                self._loop.close()

    def enqueue(self, queue: str, task: str, args: Any = None, **options: Any) -> TasksEnqueueReply:
        return self._loop.run(self._client.enqueue(queue, task, args, **options))

    def get(self, id: str) -> TaskJob:
        return self._loop.run(self._client.get(id))

    def wait(self, id: str, timeout: float = 60.0) -> TaskJob:
        return self._loop.run(self._client.wait(id, timeout))

    def result(self, id: str, timeout: float = 60.0) -> Any:
        return self._loop.run(self._client.result(id, timeout))

    def cancel(self, id: str) -> TaskJob:
        return self._loop.run(self._client.cancel(id))

    def retry(self, id: str) -> TaskJob:
        return self._loop.run(self._client.retry(id))

    def list(self, **options: Any) -> TasksListReply:
        return self._loop.run(self._client.list(**options))

    def call(self, message_type: str, body: Mapping[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        return self._loop.run(self._client.call(message_type, body, timeout=timeout))
