"""correio.tasks over real processes: the TypeScript broker, proxy, reference server and a server
that coordinates the task queue (serveTopology.ts --servers 1), with Python producers and workers —
results, idempotent enqueue, progress, cancellation, failing for good, unknown tasks, results v1
cannot carry, retries with backoff into the dead-letter queue and its replay, lost leases (both
told by a heartbeat and found at settle), a graceful stop giving back what outlives its grace and
what its last poll brings, the README example — and a TypeScript @correio/tasks peer
(ts_task_peer.mts) running Python's jobs and having its jobs run by Python. Also the client
resending an enqueue with its job id, against a scripted ROUTER."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import zmq

from correio import CorreioError, Stamp, decode_message, encode_message, mdp
from correio.tasks import AsyncTaskClient, PermanentJobError, TaskClient, TaskFailed, TaskWorker

from .cluster import REPO, Cluster, start_cluster

TS_PEER = Path(__file__).with_name("ts_task_peer.mts")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    started = start_cluster(tmp_path_factory.mktemp("tasks"), servers=1, auth="open")
    try:
        with TaskClient(started.broker, timeout=60) as probe:
            probe.list(limit=1)  # held by the broker until the server coordinates the queue
        yield started
    finally:
        started.stop()


@pytest.fixture
def tasks(cluster: Cluster) -> Iterator[TaskClient]:
    with TaskClient(cluster.broker, timeout=20) as client:
        yield client


@pytest.fixture
def workers(cluster: Cluster) -> Iterator[Callable[..., TaskWorker]]:
    """Makes workers on the cluster (polls of 0.5 s unless told: stop waits for one); every one is stopped after the test."""
    made: list[TaskWorker] = []

    def make(queues: list[str], **options: Any) -> TaskWorker:
        worker = TaskWorker(cluster.broker, queues=queues, **{"poll_ms": 500, **options})
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.stop(grace=1)


def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def state_of(tasks: TaskClient, job_id: str) -> tuple[str, int]:
    job = tasks.get(job_id)
    return job["state"], job["attempt"]


def test_the_client_resends_an_enqueue_with_its_job_id_until_the_queue_answers(context: Any, run: Callable[..., Any]) -> None:
    """Against a scripted ROUTER standing in for the broker while the coordinator fails over."""

    async def scenario() -> None:
        router = context.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind("tcp://127.0.0.1:*")
        endpoint = router.getsockopt_string(zmq.LAST_ENDPOINT)

        async def answer(message_type: str, body: dict[str, Any]) -> dict[str, Any]:
            identity, _header, _command, service, frame = await asyncio.wait_for(router.recv_multipart(), 5)
            request = decode_message(frame)
            assert service == b"tasks"
            reply = Stamp("srv-test").envelope(message_type, body, request["id"])
            await router.send_multipart([identity, mdp.CLIENT, mdp.FINAL, service, encode_message(reply)])
            return request

        unavailable = {"code": "UNAVAILABLE", "message": "not the coordinator", "retryable": True}
        async with AsyncTaskClient(endpoint, timeout=5, context=context) as client:
            enqueue = asyncio.ensure_future(client.enqueue("mail", "mail.send", {"to": "ana"}, priority=3))
            first = await answer("error", unavailable)
            second = await answer("error", {"code": "TIMEOUT", "message": "no worker yet", "retryable": True})
            job = {"id": first["body"]["id"], "queue": "mail", "task": "mail.send", "args": {"to": "ana"}, "state": "queued", "priority": 3, "attempt": 0,
                   "max_attempts": 3, "backoff_ms": 1000, "max_backoff_ms": 300000, "lease_ms": 30000, "result_ttl_ms": 86400000,
                   "run_at": 1, "created_at": 1, "updated_at": 1, "version": 1}
            third = await answer("tasks.enqueue.reply", {"job": job, "created": True})
            assert (await enqueue)["job"] == job
            assert first["body"] == second["body"] == third["body"] == {"queue": "mail", "task": "mail.send", "args": {"to": "ana"}, "priority": 3, "id": job["id"]}
            assert job["id"].startswith("j_")

            # An answer no resend changes is raised at once; a queue away past the deadline, in the end.
            get = asyncio.ensure_future(client.get("gone"))
            await answer("error", {"code": "NOT_FOUND", "message": "no job gone", "retryable": False})
            with pytest.raises(CorreioError) as not_found:
                await get
            assert not_found.value.code == "NOT_FOUND"
            client.timeout = 0.5
            began = time.monotonic()
            cancel = asyncio.ensure_future(client.cancel("busy"))
            resends = 0
            for _ in range(100):
                resent = asyncio.ensure_future(answer("error", unavailable))
                await asyncio.wait({resent, cancel}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
                if cancel.done():
                    resent.cancel()
                    break
                await resent
                resends += 1
            with pytest.raises(CorreioError) as away:
                await cancel
            assert away.value.code == "UNAVAILABLE" and resends >= 3 and time.monotonic() - began >= 0.5
        router.close(linger=0)

    run(scenario())


def test_python_worker_runs_what_a_python_producer_enqueues(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    worker = workers(["py-basic"], concurrency=3)
    release, started = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    @worker.task("math.add")
    def add(args: list[int], ctx: Any) -> int:
        seen["add"] = (ctx.queue, ctx.task, ctx.attempt, ctx.worker)
        return args[0] + args[1]

    @worker.task
    def echo(args: Any) -> Any:  # the name is the function's; a one-parameter handler gets no context
        return args

    @worker.task("report")
    def report(_args: Any, ctx: Any) -> str:
        ctx.progress({"done": 1, "of": 2})
        release.wait(10)
        return "reported"

    @worker.task("slow")
    def slow(_args: Any, ctx: Any) -> str:
        started.set()
        ctx.cancelled.wait(10)
        ctx.raise_if_cancelled()
        return "never cancelled"

    @worker.task("bad")
    def bad(_args: Any) -> None:
        raise PermanentJobError("bad input")

    @worker.task("floaty")
    async def floaty(_args: Any, _ctx: Any) -> float:  # async handlers run on the worker's loop
        return 0.5

    worker.start()

    reply = tasks.enqueue("py-basic", "math.add", [2, 3], id="py-sum-1")
    assert reply["created"] is True
    # Queued, or already leased to the worker whose long poll was waiting (a hand-off in the enqueue's transaction).
    assert {key: reply["job"][key] for key in ("id", "state", "attempt")} in (
        {"id": "py-sum-1", "state": "queued", "attempt": 0},
        {"id": "py-sum-1", "state": "active", "attempt": 1},
    )
    assert tasks.result("py-sum-1", 15) == 5
    assert seen["add"] == ("py-basic", "math.add", 1, worker.id)
    again = tasks.enqueue("py-basic", "math.add", [40, 2], id="py-sum-1")
    assert again["created"] is False
    assert (again["job"]["state"], again["job"]["result"], again["job"]["attempt"]) == ("succeeded", 5, 1)
    with pytest.raises(CorreioError) as unknown:
        tasks.get("never-enqueued")
    assert unknown.value.code == "NOT_FOUND"
    with pytest.raises(CorreioError) as floats:
        tasks.enqueue("py-basic", "math.add", [0.5, 1])  # refused here: v1 has no floats
    assert floats.value.code == "VALIDATION"

    # An id of the client's own; values come back exactly as they went.
    value = {"bytes": b"\x00\xff", "big": 2**53 - 1, "small": -(2**53 - 1), "text": "olá 🌍", "nested": [[], {}, None, True]}
    job = tasks.enqueue("py-basic", "echo", value)["job"]
    assert job["id"].startswith("j_") and len(job["id"]) == 18
    assert tasks.result(job["id"], 15) == value

    reporting = tasks.enqueue("py-basic", "report")["job"]["id"]
    until(lambda: tasks.get(reporting).get("progress") == {"done": 1, "of": 2}, 10, "the progress to reach the queue")
    release.set()
    assert tasks.result(reporting, 15) == "reported"

    slow_id = tasks.enqueue("py-basic", "slow", lease_ms=3_000)["job"]["id"]  # a heartbeat every second
    assert started.wait(10)
    cancelling = tasks.cancel(slow_id)
    assert (cancelling["state"], cancelling.get("cancel_requested")) == ("active", True)
    cancelled = tasks.wait(slow_id, 15)  # told at the worker's next heartbeat
    assert cancelled["state"] == "cancelled"
    assert cancelled["error"]["type"] == "JobCancelled" and "cancelled" in cancelled["error"]["message"]

    for task, kind, message in [("bad", "PermanentJobError", "bad input"), ("missing.task", "UnknownTask", f"worker {worker.id} has no handler for missing.task"),
                                ("floaty", "InvalidResult", "the handler's result cannot be sent")]:
        job_id = tasks.enqueue("py-basic", task, max_attempts=3)["job"]["id"]
        with pytest.raises(TaskFailed) as failed:
            tasks.result(job_id, 15)
        dead = failed.value.job
        assert (dead["state"], dead["attempt"], dead["error"]["type"]) == ("dead", 1, kind), dead  # no retry
        assert dead["error"]["message"].startswith(message)
    # The worker counts a settle once its reply is in, which may come after the waiting client's.
    until(lambda: worker.stats.running == 0, 5, "the last settle's reply")
    stats = worker.stats
    assert (stats.succeeded, stats.failed, stats.lost) == (3, 4, 0)  # cancelled, bad, unknown, float: failed


def test_retries_with_backoff_then_dead_letter_then_replay(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    worker = workers(["py-flaky"])
    healed = threading.Event()
    starts: list[tuple[float, int]] = []

    @worker.task("flaky")
    def flaky(_args: Any, ctx: Any) -> dict[str, int]:
        starts.append((time.monotonic(), ctx.attempt))
        if not healed.is_set():
            raise ValueError("not yet")
        return {"healed_at": ctx.attempt}

    worker.start()
    tasks.enqueue("py-flaky", "flaky", id="py-flaky-1", max_attempts=3, backoff_ms=200)
    dead = tasks.wait("py-flaky-1", 20)
    assert (dead["state"], dead["attempt"], dead["error"]) == ("dead", 3, {"type": "ValueError", "message": "not yet"})
    assert [attempt for _, attempt in starts] == [1, 2, 3]
    first_gap, second_gap = starts[1][0] - starts[0][0], starts[2][0] - starts[1][0]
    assert 0.19 <= first_gap and 0.39 <= second_gap, (first_gap, second_gap)  # 200 ms, then doubled (+ up to 25 % jitter)
    letters = tasks.list(queue="py-flaky", state="dead")
    assert [job["id"] for job in letters["jobs"]] == ["py-flaky-1"]
    assert letters["counts"]["py-flaky"]["dead"] == 1

    healed.set()
    replayed = tasks.retry("py-flaky-1")
    assert (replayed["state"], replayed["attempt"]) == ("queued", 0)
    assert tasks.result("py-flaky-1", 15) == {"healed_at": 1}
    with pytest.raises(CorreioError) as conflict:
        tasks.retry("py-flaky-1")  # only dead or cancelled jobs are replayed
    assert conflict.value.code == "CONFLICT"
    until(lambda: worker.stats.succeeded == 1, 5, "the worker to count the settle")
    assert worker.stats.failed == 3


def test_lost_lease_drops_the_outcome_whether_settle_or_a_heartbeat_finds_out(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    worker = workers(["py-lease"], concurrency=1)
    beating, go = threading.Event(), threading.Event()
    reasons: list[str | None] = []
    heartbeat = worker._heartbeat

    async def stalled_heartbeat() -> None:  # a worker too busy to heartbeat, until `beating`
        if beating.is_set():
            await heartbeat()

    worker._heartbeat = stalled_heartbeat  # type: ignore[method-assign]

    @worker.task("settle-late")
    def settle_late(_args: Any, ctx: Any) -> str:
        if ctx.attempt == 1:
            go.wait(10)
        return f"attempt {ctx.attempt}"

    @worker.task("told-by-heartbeat")
    def told(_args: Any, ctx: Any) -> str:
        if ctx.attempt == 1:
            ctx.cancelled.wait(10)
            reasons.append(ctx.reason)
        return f"attempt {ctx.attempt}"

    worker.start()
    # The lease ends (1 s without a heartbeat): the job is queued again, and the late settle is CONFLICT.
    tasks.enqueue("py-lease", "settle-late", id="py-late", lease_ms=1_000)
    until(lambda: state_of(tasks, "py-late") == ("queued", 1), 10, "the lease to expire")
    go.set()
    assert tasks.result("py-late", 15) == "attempt 2"  # the same worker's slot, free again, took it
    until(lambda: worker.stats.succeeded == 1, 5, "the worker to count the settle")
    assert worker.stats.lost == 1

    tasks.enqueue("py-lease", "told-by-heartbeat", id="py-told", lease_ms=1_000)
    until(lambda: state_of(tasks, "py-told") == ("queued", 1), 10, "the lease to expire")
    beating.set()  # the next heartbeat hears the lease is lost: the handler is told, its outcome dropped
    assert tasks.result("py-told", 15) == "attempt 2"
    assert reasons == ["the lease of job py-told was lost"]
    until(lambda: worker.stats.succeeded == 2, 5, "the worker to count the settle")
    assert worker.stats.lost == 2


def test_prefetched_jobs_wait_for_a_slot_and_a_task_keeps_to_its_rate(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    """prefetch leases beyond the slots (the extra jobs wait, leased, for one); rate_limits paces a task in this worker."""
    worker = workers(["py-prefetch"], concurrency=1, prefetch=2, rate_limits={"paced": "2/s"})
    gate = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    @worker.task("held")
    def held(_args: Any) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        gate.wait(10)
        with lock:
            running -= 1

    starts: list[float] = []

    @worker.task("paced")
    def paced(_args: Any) -> None:
        starts.append(time.monotonic())

    ids = [tasks.enqueue("py-prefetch", "held", id=f"py-held-{n}")["job"]["id"] for n in range(4)]
    worker.start()
    # One slot, two prefetched: three leased (active) at once, one running, the fourth still queued.
    until(lambda: sorted(state_of(tasks, job_id)[0] for job_id in ids) == ["active", "active", "active", "queued"], 10, "three jobs leased")
    assert worker.stats.running == 3
    gate.set()
    for job_id in ids:
        assert tasks.wait(job_id, 15)["state"] == "succeeded"
    assert most == 1

    paced_ids = [tasks.enqueue("py-prefetch", "paced", id=f"py-paced-{n}")["job"]["id"] for n in range(5)]
    for job_id in paced_ids:
        assert tasks.wait(job_id, 15)["state"] == "succeeded"
    # A burst of 2, then one every half second: the fifth starts at least 1.5 s after the first.
    assert len(starts) == 5 and starts[-1] - starts[0] >= 1.4


def test_a_settle_leases_the_next_job_in_the_same_request(tasks: TaskClient) -> None:
    """Revision 1.7: a settle with `lease` hands back the worker's next job; a refused settle leases nothing."""
    for name in ("a", "b"):
        tasks.enqueue("py-refill", "t", id=f"py-refill-{name}")
    leased = tasks.call("tasks.lease.request", {"worker": "py-raw", "queues": ["py-refill"]})["jobs"]
    assert [job["id"] for job in leased] == ["py-refill-a"]
    settle = {"worker": "py-raw", "id": "py-refill-a", "attempt": 1, "outcome": "succeeded", "lease": {"queues": ["py-refill"], "max": 5}}
    reply = tasks.call("tasks.settle.request", settle)
    assert reply["job"]["state"] == "succeeded"
    assert [(job["id"], job["state"], job["worker"]) for job in reply["jobs"]] == [("py-refill-b", "active", "py-raw")]
    with pytest.raises(CorreioError) as refused:
        tasks.call("tasks.settle.request", settle)
    assert refused.value.code == "CONFLICT"


def test_stopping_worker_gives_back_what_outlives_its_grace(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    stopping = workers(["py-stop"], concurrency=2)
    started, unblock = threading.Semaphore(0), threading.Event()
    reasons: list[str | None] = []

    @stopping.task("polite")
    def polite(_args: Any, ctx: Any) -> str:  # stops when told
        started.release()
        ctx.cancelled.wait(10)
        reasons.append(ctx.reason)
        ctx.raise_if_cancelled()
        return "finished"

    @stopping.task("stubborn")
    def stubborn(_args: Any, ctx: Any) -> str:  # never looks at ctx.cancelled: given back anyway, its outcome dropped
        started.release()
        unblock.wait(10)
        return "too late"

    stopping.start()
    for task in ("polite", "stubborn"):
        tasks.enqueue("py-stop", task, id=f"py-stop-{task}")
    assert started.acquire(timeout=10) and started.acquire(timeout=10)
    began = time.monotonic()
    try:
        stopping.stop(grace=0.2)
        assert time.monotonic() - began < 6  # the grace, then ABORT_WAIT (2 s) for the aborted handlers, not 10 s
    finally:
        unblock.set()
    assert reasons == ["the worker is stopping"]
    assert (stopping.stats.released, stopping.stats.succeeded, stopping.stats.failed) == (2, 0, 0)
    for task in ("polite", "stubborn"):
        job = tasks.get(f"py-stop-{task}")
        assert (job["state"], job["attempt"]) == ("queued", 0), job  # released: the attempt does not count

    successor = workers(["py-stop"])
    successor.register("polite", lambda _args, ctx: f"polite by {ctx.worker}")
    successor.register("stubborn", lambda _args: "stubborn, at last")
    successor.start()
    assert tasks.result("py-stop-polite", 15) == f"polite by {successor.id}"
    assert tasks.result("py-stop-stubborn", 15) == "stubborn, at last"


def test_a_job_leased_while_the_worker_stops_is_given_back(tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    worker = workers(["py-late-lease"], poll_ms=3_000)
    worker.register("quick", lambda args: args)
    worker.start()
    assert tasks.result(tasks.enqueue("py-late-lease", "quick", 1)["job"]["id"], 15) == 1
    # Having leased that job, the worker polls again at once (3 s): stop waits for that poll, and
    # the job it brings is given back rather than left to its lease's end.
    stopping = threading.Thread(target=worker.stop, kwargs={"grace": 1})
    stopping.start()
    time.sleep(0.2)
    tasks.enqueue("py-late-lease", "quick", 2, id="py-late-lease-2")
    stopping.join(10)
    assert not stopping.is_alive()
    assert (worker.stats.leased, worker.stats.released) == (2, 1)
    assert state_of(tasks, "py-late-lease-2") == ("queued", 0)


def test_the_readme_example_runs(cluster: Cluster) -> None:
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"## A task queue\n.*?```python\n(.*?)```", text, re.S)
    assert match is not None, "the README has a task queue example"
    environment = {**os.environ, "CORREIO_BROKER": cluster.broker}
    done = subprocess.run([sys.executable, "-c", match.group(1)], cwd=Path(__file__).parents[1], env=environment, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout) == (0, "{'sent_to': 'ana@example.com'}\n"), done.stderr


class TsPeer:
    """ts_task_peer.mts in its own process: a TypeScript worker, and a producer driven by JSON lines."""

    def __init__(self, broker: str, queue: str) -> None:
        command = ["node", "--import", "tsx", "--conditions=@correio/source", str(TS_PEER), "--broker", broker, "--queue", queue]
        self.process = subprocess.Popen(command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def send(self, line: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(line) + "\n")
        self.process.stdin.flush()

    def read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not readable:
            raise AssertionError(f"the TypeScript peer printed nothing within {timeout} s")
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the TypeScript peer exited with status {self.process.wait()} (its stderr is above)")
        return json.loads(line)

    def stop(self) -> int:
        """Ends its input (it stops its worker and exits); killed if it takes too long."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def test_typescript_and_python_run_each_others_jobs(cluster: Cluster, tasks: TaskClient, workers: Callable[..., TaskWorker]) -> None:
    peer = TsPeer(cluster.broker, "ts-interop")
    try:
        worker = workers(["py-interop"])

        @worker.task("py.describe")
        def describe(args: dict[str, list[int]], ctx: Any) -> dict[str, Any]:
            return {"sum": sum(args["numbers"]), "by": "python", "attempt": ctx.attempt}

        @worker.task("py.refuse")
        def refuse(_args: Any) -> None:
            raise PermanentJobError("Python refuses this job")

        worker.start()
        assert "ready" in peer.read(60)  # tsx compiles the peer first

        # Python enqueues, TypeScript runs.
        job_id = tasks.enqueue("ts-interop", "ts.concat", {"parts": ["olá", "mundo"]})["job"]["id"]
        assert tasks.result(job_id, 15) == {"joined": "olá mundo", "by": "typescript", "attempt": 1}
        refused = tasks.enqueue("ts-interop", "ts.refuse", [])["job"]["id"]
        with pytest.raises(TaskFailed) as failed:
            tasks.result(refused, 15)
        assert (failed.value.job["state"], failed.value.job["attempt"]) == ("dead", 1)
        assert failed.value.job["error"] == {"type": "PermanentJobError", "message": "TypeScript refuses this job"}

        # TypeScript enqueues, Python runs.
        peer.send({"queue": "py-interop", "task": "py.describe", "args": {"numbers": [1, 2, 39]}, "id": "from-ts-1"})
        done = peer.read(20)["job"]
        assert (done["id"], done["state"], done["result"], done["worker"]) == ("from-ts-1", "succeeded", {"sum": 42, "by": "python", "attempt": 1}, worker.id)
        peer.send({"queue": "py-interop", "task": "py.refuse", "id": "from-ts-2"})
        dead = peer.read(20)["job"]
        assert (dead["state"], dead["attempt"], dead["error"]) == ("dead", 1, {"type": "PermanentJobError", "message": "Python refuses this job"})
        assert peer.stop() == 0
    finally:
        if peer.process.poll() is None:
            peer.stop()
