"""Runs jobs of some queues (protocol README, revision 1.6), as libs/tasks/src/TaskWorker.ts does.

One asyncio loop (its own thread with ``start()``, the caller's with ``run()`` or ``serve()``) owns
the one socket: it leases jobs with long polls — never more than its free slots, so a job does not
wait behind another in a busy worker — heartbeats every running job at a third of its lease (in
batches of 100, with the progress reported since), and settles each with its result or error —
leasing the next job for the freed slot in the same request (revision 1.7) while it is busy.
Plain functions run in a pool of ``concurrency`` threads; ``async def`` handlers run on the loop.
A lease the queue says is lost, or a cancellation, sets the job's ``ctx.cancelled`` (and cancels an
async handler): Python cannot stop a thread, so a plain handler looks at the flag. At least once:
a worker that dies mid-job loses its lease and the job runs again elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import secrets
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable, Mapping

from ..codec import encode
from ..errors import CorreioError
from ..generated.defs import TaskJob
from .client import REQUEST_SLACK, AsyncTaskClient, Auth
from .errors import JobCancelled
from .rate import TokenBucket, parse_rate

log = logging.getLogger("correio.tasks")

#: Leases one heartbeat may carry (the protocol's maxItems).
BEAT_BATCH = 100
#: Seconds between looks at which leases need a heartbeat.
BEAT_CHECK = 0.25
#: Longest wait after a failed lease request, seconds.
MAX_RETRY_WAIT = 2.0
#: After the grace, how long aborted handlers get to return before their jobs are given back anyway.
ABORT_WAIT = 2.0
#: taskError bounds.
MAX_ERROR_TYPE = 200
MAX_ERROR_MESSAGE = 4000

Handler = Callable[..., Any]


class JobContext:
    """What a handler is given besides the job's arguments: ``id``, ``queue``, ``task``, ``attempt``
    (from 1), ``job`` (as leased), ``cancelled`` (a ``threading.Event`` set when the job is cancelled,
    its lease is lost or the worker stops past its grace; ``reason`` says which) and ``progress()``."""

    def __init__(self, job: TaskJob, worker: str) -> None:
        self.job = job
        self.id: str = job["id"]
        self.queue: str = job["queue"]
        self.task: str = job["task"]
        self.attempt: int = job["attempt"]
        self.worker = worker
        self.cancelled = threading.Event()
        self.reason: str | None = None
        self._lock = threading.Lock()
        self._progress: Any = None
        self._progress_dirty = False

    def progress(self, value: Any) -> None:
        """Reports progress (any v1 value: no floats): sent with the next heartbeat, shown by ``tasks.get``
        and the event stream. Raises CorreioError VALIDATION at once for a value v1 cannot carry."""
        encode(value)
        with self._lock:
            self._progress = value
            self._progress_dirty = True

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Raises JobCancelled once the job should stop."""
        if self.cancelled.is_set():
            raise JobCancelled(self.reason or "the job was cancelled")

    def sleep(self, seconds: float) -> bool:
        """Waits ``seconds`` unless the job should stop first; True when it should."""
        return self.cancelled.wait(seconds)

    def _take_progress(self) -> dict[str, Any]:
        with self._lock:
            self._progress_dirty = False
            return {} if self._progress is None else {"progress": self._progress}


@dataclass
class _Running:
    job: TaskJob
    ctx: JobContext
    last_beat: float
    lost: bool = False
    task: asyncio.Future[Any] | None = None

    def abort(self, reason: str) -> None:
        if self.ctx.reason is None:
            self.ctx.reason = reason
        self.ctx.cancelled.set()
        if isinstance(self.task, asyncio.Task):  # an async handler; a thread cannot be stopped
            self.task.cancel(reason)


@dataclass(frozen=True)
class TaskWorkerStats:
    leased: int
    succeeded: int
    failed: int
    #: Attempts whose lease was lost (expired or taken away): their outcome was dropped.
    lost: int
    #: Jobs given back unfinished at stop.
    released: int
    running: int


class TaskWorker:
    """``worker = TaskWorker(broker, queues=["email"], concurrency=4)``, handlers registered with
    ``@worker.task("email.send")`` (``def send(args, ctx)`` or ``async def``; ``def send(args)`` too),
    then ``worker.run()`` (until SIGINT/SIGTERM or ``stop()``) or ``worker.start()`` … ``worker.stop(grace)``.

    A handler's return value is the job's result (None: no result). An exception fails the attempt
    with ``{type: its class name, message: str(exc)}``: retried after a backoff while attempts remain,
    unless it is a PermanentJobError (or has ``retry = False``): then the job is dead at once. Every
    worker of a queue must handle every task sent to it: an unknown task fails for good (UnknownTask).
    """

    def __init__(
        self,
        broker: str,
        *,
        queues: Iterable[str],
        concurrency: int = 4,
        handlers: Mapping[str, Handler] | None = None,
        id: str | None = None,
        poll_ms: int = 5_000,
        timeout: float = 60.0,
        auth: Auth = None,
        prefetch: int = 0,
        rate_limits: Mapping[str, str] | None = None,
    ) -> None:
        self.queues = list(queues)
        if not self.queues:
            raise ValueError("a task worker needs at least one queue")
        if concurrency < 1 or prefetch < 0 or not 0 <= poll_ms <= 30_000:
            raise ValueError("concurrency must be at least 1, prefetch at least 0 and poll_ms within 0..30000")
        self.broker = broker
        self.concurrency = concurrency
        self.prefetch = prefetch
        self._limits = {task: TokenBucket(parse_rate(rate)) for task, rate in (rate_limits or {}).items()}
        self.poll_ms = poll_ms
        self.id = id if id is not None else _default_id()
        self._timeout = timeout
        self._auth = auth
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        for name, handler in (handlers or {}).items():
            self.register(name, handler)
        self._counts = {"leased": 0, "succeeded": 0, "failed": 0, "lost": 0, "released": 0}
        self._running: dict[str, _Running] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._failure: BaseException | None = None
        self._grace = 10.0
        self._releasing = False
        self._stopping: asyncio.Event | None = None

    # Registering handlers.

    def task(self, name: str | Handler | None = None) -> Any:
        """Registers a handler: ``@worker.task("email.send")``, or ``@worker.task`` for the function's name."""
        if callable(name):
            return self.register(name.__name__, name)

        def decorate(handler: Handler) -> Handler:
            return self.register(name if isinstance(name, str) else handler.__name__, handler)

        return decorate

    def register(self, name: str, handler: Handler) -> Handler:
        self._handlers[name] = (handler, _takes_context(handler))
        return handler

    @property
    def stats(self) -> TaskWorkerStats:
        return TaskWorkerStats(**self._counts, running=len(self._running))

    # Running and stopping.

    def run(self, grace: float = 10.0) -> None:
        """Serves in this thread until ``stop()``, or SIGINT / SIGTERM (on the main thread), then drains for ``grace`` s."""
        asyncio.run(self.serve(signals=threading.current_thread() is threading.main_thread(), grace=grace))

    def start(self, timeout: float = 10.0) -> "TaskWorker":
        """Serves in a thread of its own; returns once it is connected."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), name=f"correio-task-worker-{self.id}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the task worker did not start within {timeout} s")
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self, grace: float = 10.0) -> None:
        """Stops taking jobs (waiting for the lease in flight, at most ``poll_ms``, and giving back what it
        brings), lets running ones finish for ``grace`` s, then sets their ``cancelled`` and
        gives them back (released: they run again elsewhere, the attempt not counted). Blocks until done;
        from any thread but the worker's loop (``await worker.aclose()`` there)."""
        loop = self._loop
        if loop is None or self._done.is_set():
            return
        if _running_loop() is loop:
            raise RuntimeError("stop() from the worker's own loop would wait for itself: use `await worker.aclose()`")
        loop.call_soon_threadsafe(self._begin_stop, grace)
        self._done.wait(self.poll_ms / 1000 + REQUEST_SLACK + grace + ABORT_WAIT + 2 * self._timeout)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def aclose(self, grace: float = 10.0) -> None:
        """``stop()`` for a worker served on the caller's loop (``await worker.serve()`` in another task)."""
        self._begin_stop(grace)
        while self._stopping is not None and not self._done.is_set():
            await asyncio.sleep(0.05)

    async def serve(self, *, signals: bool = False, grace: float = 10.0) -> None:
        """Serves on the running loop until ``aclose()`` / ``stop()`` (or a signal, with ``signals``)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._grace = grace
        self._runs: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"correio-task-{self.id}")
        self._client = AsyncTaskClient(self.broker, timeout=self._timeout, auth=self._auth, sender=self.id)
        try:
            self._client.connect()
            if signals:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    self._loop.add_signal_handler(signum, self._begin_stop, grace)
        except BaseException as error:
            self._failure = error
            self._ready.set()
            self._done.set()
            await self._client.close()
            raise
        self._ready.set()
        polling = asyncio.create_task(self._poll())
        beating = asyncio.create_task(self._beat())
        try:
            await self._stopping.wait()  # until stop(), aclose() or a signal
        finally:
            # The lease in flight is waited for, not abandoned: the queue would still lease to this
            # worker what comes due during the poll. What it brings is given back (_poll).
            await asyncio.wait({polling}, timeout=self.poll_ms / 1000 + REQUEST_SLACK)
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            try:
                await self._drain()
            finally:
                beating.cancel()
                await asyncio.gather(beating, return_exceptions=True)
                self._executor.shutdown(wait=False, cancel_futures=True)
                await self._client.close()
                if signals:
                    for signum in (signal.SIGINT, signal.SIGTERM):
                        self._loop.remove_signal_handler(signum)
                self._done.set()

    def _begin_stop(self, grace: float) -> None:
        if self._stopping is not None and not self._stopping.is_set():
            self._grace = grace
            self._stopping.set()
            self._slot_freed.set()

    async def _drain(self) -> None:
        await self._until_idle(self._grace)
        self._releasing = True
        for entry in self._running.values():
            entry.abort("the worker is stopping")
        await self._until_idle(ABORT_WAIT)
        # Plain handlers that ignore `cancelled` cannot be stopped: their jobs are given back now and
        # whatever they return later is dropped.
        for entry in list(self._running.values()):
            if not entry.lost:
                entry.lost = True  # before the await: a late return must not settle too
                await self._settle(entry, {"outcome": "released"}, dropping=True)

    async def _until_idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._running and time.monotonic() < deadline:
            await self._next_slot(deadline - time.monotonic())

    async def _next_slot(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._slot_freed.wait(), max(0.001, seconds))
        except asyncio.TimeoutError:
            pass
        self._slot_freed.clear()

    # Leasing, running, settling.

    async def _poll(self) -> None:
        failures = 0
        # Runs until stop; the lease then in flight ends on its own and what it brings is given back.
        while not self._stopping.is_set():
            self._slot_freed.clear()
            free = self.concurrency + self.prefetch - len(self._running)
            if free <= 0:
                await self._next_slot(60.0)
                continue
            body = {"worker": self.id, "queues": self.queues, "max": min(free, 100), "wait_ms": self.poll_ms}
            try:
                jobs: list[TaskJob] = (await self._client.call("tasks.lease.request", body))["jobs"]
                failures = 0
            except Exception as error:  # the loop must outlive any failure
                failures += 1
                log.warning("leasing jobs failed (%s); trying again", error)
                await asyncio.sleep(min(MAX_RETRY_WAIT, 0.1 * 2 ** min(failures, 5)))
                continue
            self._counts["leased"] += len(jobs)
            if self._stopping.is_set():
                await asyncio.gather(*(self._give_back(job) for job in jobs))
                break
            for job in jobs:
                self._start(job)

    def _start(self, job: TaskJob) -> None:
        # Counted as running before the next lease asks for the free slots.
        entry = self._running[job["id"]] = _Running(job, JobContext(job, self.id), time.monotonic())
        run = asyncio.create_task(self._run(entry))
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)

    async def _refill(self, jobs: list[TaskJob]) -> None:
        """Runs the jobs a settle leased (revision 1.7), each taking its slot before the settled job leaves it; given back when stopping."""
        self._counts["leased"] += len(jobs)
        for job in jobs:
            if self._stopping.is_set():
                await self._give_back(job)
            else:
                self._start(job)

    async def _run(self, entry: _Running) -> None:
        job = entry.job
        try:
            registered = self._handlers.get(job["task"])
            if registered is None:
                error = {"type": "UnknownTask", "message": f"worker {self.id} has no handler for {job['task']}"}
                await self._refill(await self._settle(entry, {"outcome": "failed", "error": error, "retry": False}, refill=True))
                return
            failure: BaseException | None
            try:
                async with self._turn(entry):
                    try:
                        entry.task = self._invoke(registered, job.get("args"), entry.ctx)
                    except Exception as error:  # an async handler called with the wrong arguments
                        entry.task = asyncio.get_running_loop().create_future()
                        entry.task.set_exception(error)
                    await asyncio.wait({entry.task})
            except JobCancelled as cancelled:  # while it waited for its rate or a slot
                failure = cancelled
            else:
                assert entry.task is not None
                failure = JobCancelled(entry.ctx.reason or "the job was cancelled") if entry.task.cancelled() else entry.task.exception()
            if failure is None:
                assert entry.task is not None
                result = entry.task.result()
                await self._refill(await self._settle(entry, {"outcome": "succeeded", **({} if result is None else {"result": result})}, refill=True))
            elif self._releasing:
                await self._settle(entry, {"outcome": "released"})
            else:
                failed = {"outcome": "failed", "error": _error_of(failure), "retry": getattr(failure, "retry", True) is not False}
                await self._refill(await self._settle(entry, failed, refill=True))
        finally:
            self._running.pop(job["id"], None)
            self._slot_freed.set()

    @contextlib.asynccontextmanager
    async def _turn(self, entry: _Running) -> AsyncIterator[None]:
        """Waits for the task's rate and a free slot (prefetched jobs wait here), then holds the slot.

        A job cancelled, or whose lease is lost, meanwhile fails with JobCancelled without running.
        """
        limit = self._limits.get(entry.job["task"])
        # Bounded by the bucket's refill and by the job's cancellation.
        while limit is not None and not limit.take():
            self._raise_if_cancelled(entry)
            await asyncio.sleep(max(0.001, limit.wait()))
        while True:
            self._raise_if_cancelled(entry)
            try:
                await asyncio.wait_for(self._slots.acquire(), 0.25)
                break
            except asyncio.TimeoutError:
                continue
        try:
            self._raise_if_cancelled(entry)
            yield
        finally:
            self._slots.release()

    @staticmethod
    def _raise_if_cancelled(entry: _Running) -> None:
        if entry.ctx.cancelled.is_set():
            raise JobCancelled(entry.ctx.reason or "the job was cancelled")

    async def _give_back(self, job: TaskJob) -> None:
        """Releases a job leased while stopping, unstarted."""
        await self._settle(_Running(job, JobContext(job, self.id), time.monotonic()), {"outcome": "released"})

    def _invoke(self, registered: tuple[Handler, bool], args: Any, ctx: JobContext) -> asyncio.Future[Any]:
        handler, with_context = registered
        call_args = (args, ctx) if with_context else (args,)
        if inspect.iscoroutinefunction(handler):
            return asyncio.ensure_future(handler(*call_args))
        return asyncio.get_running_loop().run_in_executor(self._executor, _call, handler, call_args)

    async def _settle(self, entry: _Running, outcome: dict[str, Any], *, dropping: bool = False, refill: bool = False) -> list[TaskJob]:
        """Settles the attempt unless its lease was lost (``dropping``: the drain giving back a job it drops).

        With ``refill``, unless the worker is stopping, the same request leases one due job for the
        slot this one frees (protocol revision 1.7); it is returned, for the caller to run.
        """
        if entry.lost and not dropping:
            return []
        job = entry.job
        body = {"worker": self.id, "id": job["id"], "attempt": job["attempt"], **outcome}
        if refill and not self._stopping.is_set():
            body["lease"] = {"queues": self.queues, "max": 1}
        try:
            reply = await self._client.call("tasks.settle.request", body)
        except CorreioError as error:
            if error.code == "CONFLICT":
                self._counts["lost"] += 1
                log.info("the lease of job %s attempt %d was lost before it settled: its outcome is dropped (the job runs again)", job["id"], job["attempt"])
                return []
            if error.code == "VALIDATION" and outcome["outcome"] == "succeeded":
                # A result v1 cannot carry (a float, an object): the job fails for good, saying why.
                reason = {"type": "InvalidResult", "message": _clip(f"the handler's result cannot be sent: {error.message}", MAX_ERROR_MESSAGE)}
                return await self._settle(entry, {"outcome": "failed", "error": reason, "retry": False}, refill=refill)
            log.warning("settling job %s failed (%s): its lease will expire and it runs again", job["id"], error)
            return []
        except Exception as error:
            log.warning("settling job %s failed (%r): its lease will expire and it runs again", job["id"], error)
            return []
        self._counts[{"succeeded": "succeeded", "failed": "failed", "released": "released"}[outcome["outcome"]]] += 1
        return list(reply.get("jobs", []))

    # Heartbeats.

    async def _beat(self) -> None:
        # Runs until the worker has drained (the task is cancelled).
        while True:
            await asyncio.sleep(BEAT_CHECK)
            try:
                await self._heartbeat()
            except Exception as error:
                log.warning("a heartbeat failed (%s); the next one tries again before the leases end", error)

    async def _heartbeat(self) -> None:
        """Heartbeats the leases a third of their length old, and the ones with new progress."""
        now = time.monotonic()
        due = [entry for entry in self._running.values()
               if not entry.lost and (entry.ctx._progress_dirty or now - entry.last_beat >= entry.job["lease_ms"] / 3000)]
        for start in range(0, len(due), BEAT_BATCH):
            batch = due[start:start + BEAT_BATCH]
            leases = [{"id": entry.job["id"], "attempt": entry.job["attempt"], **entry.ctx._take_progress()} for entry in batch]
            reply = await self._client.call("tasks.heartbeat.request", {"worker": self.id, "leases": leases})
            for entry, lease in zip(batch, reply["leases"]):
                entry.last_beat = now
                if not lease["held"]:
                    if not entry.lost:
                        entry.lost = True
                        self._counts["lost"] += 1
                    entry.abort(f"the lease of job {entry.job['id']} was lost")
                elif lease["cancel"]:
                    entry.abort(f"job {entry.job['id']} was cancelled")


def _call(handler: Handler, args: tuple[Any, ...]) -> Any:
    return handler(*args)


def _takes_context(handler: Handler) -> bool:
    """Whether a handler takes (args, ctx) or just (args)."""
    try:
        parameters = list(inspect.signature(handler).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return True
    return len([p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2


def _error_of(error: BaseException) -> dict[str, str]:
    return {"type": _clip(type(error).__name__ or "Error", MAX_ERROR_TYPE), "message": _clip(str(error), MAX_ERROR_MESSAGE)}


def _clip(text: str, limit: int) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate has no UTF-8 form
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _default_id() -> str:
    host = re.sub(r"[^\x21-\x7e]", "", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(3)}"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
