"""correio.service lifecycle over real sockets, against the TypeScript broker and proxy: supervised
tasks, the graceful drain, hostile input, the driver program, the README example and the hello
example."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import zmq
import zmq.asyncio

from correio import encode, mdp
from correio.service import ActionContext, Context, CorreioError, Event, InstanceInfo, Service, TaskContext, action, on, task

from .services import FAST, PEER, Driver, endpoints, lines_until, program, running, stop_program, until


class Worky(Service):
    name = "worky"

    def __init__(self, topology: Any, **options: Any) -> None:
        super().__init__(**{**endpoints(topology), **FAST, **options})
        self.starts: list[float] = []
        self.ticks = 0
        self.started = asyncio.Event()
        self.heard: list[Event] = []
        self.downs: list[tuple[str, str]] = []

    @task
    async def fragile(self, ctx: TaskContext) -> None:
        """Fails on its first two runs, then runs until the service stops."""
        self.starts.append(asyncio.get_running_loop().time())
        if len(self.starts) <= 2:
            raise RuntimeError(f"run {len(self.starts)} failed")
        while not await ctx.sleep(10):
            pass

    @task(every=0.05)
    async def tick(self, ctx: TaskContext) -> None:
        self.ticks += 1

    @action
    async def slow(self, ctx: ActionContext, params: int) -> int:
        self.started.set()
        await asyncio.sleep(params / 1000)
        return params

    @on("worky.poke")
    async def poked(self, ctx: Context, event: Event) -> None:
        self.heard.append(event)

    async def on_service_down(self, info: InstanceInfo, reason: str) -> None:
        self.downs.append((info.instance, reason))


def test_tasks_are_supervised_and_restarted_with_backoff(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        worky = Worky(topology)
        async with running(worky):
            await until(lambda: len(worky.starts) == 3 and worky.ticks >= 3)
            first, second = worky.starts[1] - worky.starts[0], worky.starts[2] - worky.starts[1]
            # Backoff 100 ms doubling, jitter at most half: at least 50 ms, then at least 100 ms.
            assert first >= 0.05 and second >= 0.1
            supervisor = next(task for task in worky._tasks if task.name == "fragile")
            assert supervisor.restarts == 2 and "run 2 failed" in str(supervisor.last_error)
        ticks = worky.ticks
        await asyncio.sleep(0.2)
        assert worky.ticks == ticks  # stopped with the service

    run(scenario())


def test_graceful_drain(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        worky = Worky(topology, concurrency=2)
        watcher = Worky(topology, name="watcher")
        caller = Service(name="drain-caller", **endpoints(topology), **FAST)
        async with running(watcher, caller):
            await worky.start()
            try:
                in_flight = asyncio.ensure_future(caller.call("worky.slow", 700, timeout=5))
                await asyncio.wait_for(worky.started.wait(), 5)
                stopping = asyncio.ensure_future(worky.stop())
                await until(lambda: worky.state == "stopping")
                refused = asyncio.ensure_future(caller.call("worky.slow", 1, timeout=5, retries=0))
                assert await asyncio.wait_for(in_flight, 5) == 700  # the in-flight call finished
                with pytest.raises(CorreioError) as error:
                    await asyncio.wait_for(refused, 10)
                assert error.value.code == "UNAVAILABLE" and error.value.retryable
                await asyncio.wait_for(stopping, 10)
            finally:
                await worky.stop()
            assert worky.state == "stopped"
            await until(lambda: (worky.instance, "announced") in watcher.downs)

    run(scenario())


def test_the_drain_cancels_what_outlives_its_timeout(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        worky = Worky(topology, name="worky-stuck", drain_timeout=0.3)
        caller = Service(name="stuck-caller", **endpoints(topology), **FAST)
        async with running(caller):
            await worky.start()
            try:
                stuck = asyncio.ensure_future(caller.call("worky-stuck.slow", 20_000, timeout=3))
                await asyncio.wait_for(worky.started.wait(), 5)
                await asyncio.wait_for(worky.stop(), 5)  # bounded by the drain timeout, not the handler
                assert worky._worker is not None and worky._worker.abandoned == 1
                with pytest.raises(CorreioError) as error:
                    await asyncio.wait_for(stuck, 10)
                # The handler was cancelled and nothing answered: the broker saw its worker leave mid-request.
                assert error.value.code == "UNAVAILABLE" and error.value.data is not None and error.value.data["reason"] == "worker-died"
            finally:
                await worky.stop()

    run(scenario())


def test_hostile_input_never_kills_the_service(topology: Any, run: Callable[..., Any], context: zmq.asyncio.Context) -> None:
    async def scenario() -> None:
        worky = Worky(topology)
        async with running(worky):
            # Malformed requests straight to the worker, through the broker: each answered, none fatal.
            dealer = context.socket(zmq.DEALER)
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(topology.broker)
            bad_envelope = encode({"v": 1, "type": "service.call.request", "id": "bad-1", "from": "x", "lc": 1, "ts": 1, "body": {"action": 42}})
            for body in (b"\xc1\xff\x00 not msgpack", bad_envelope, encode([1, 2, 3])):
                await dealer.send_multipart(mdp.client_request("svc.worky", body))
                reply = mdp.parse_client_reply(await asyncio.wait_for(dealer.recv_multipart(), 5))
                assert reply.final
            dealer.close()

            # Broadcasts of the wrong shape on the event's topic, then garbage frames: dropped.
            pub = context.socket(zmq.PUB)
            pub.setsockopt(zmq.LINGER, 0)
            pub.connect(topology.proxy_pub)
            wrong = encode({"v": 1, "type": "service.event", "id": "e1", "from": "evil", "lc": 1, "ts": 1, "body": {"event": 7, "sender": ["x"]}})
            proof = encode({"v": 1, "type": "service.event", "id": "e2", "from": "evil", "lc": 2, "ts": 1, "body": {"event": "worky.poke", "sender": "evil", "data": "ok"}})
            topic = b"svc/worky.poke/"
            for _ in range(50):  # until the proxy forwards this new publisher's messages
                await pub.send_multipart([topic, encode({"n": 1, "p": "evil", "s": 1}), wrong])
                await pub.send_multipart([topic, b"\x00garbage"])
                await pub.send_multipart([topic, encode({"n": 2, "p": "evil", "s": 2}), proof])  # n says 2, holds 1
                await pub.send_multipart([topic, encode({"n": 1, "p": "evil", "s": 4}), proof])
                if worky.heard:
                    break
                await asyncio.sleep(0.1)
            pub.close()
            await until(lambda: worky.heard)
            assert all(event.data == "ok" for event in worky.heard)
            assert worky._subscriber is not None and worky._subscriber.dropped > 0 and worky._subscriber.dropped_bodies > 0
            assert worky.state == "running" and await worky.call("worky.slow", 1) == 1

    run(scenario())


def test_the_driver_serves_and_stops_gracefully(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        driver = Driver(topology, "pydrv", "--concurrency", "2", "--announce-interval", "200")
        try:
            ready = await driver.start()
            await driver.line(lambda line: line == {"op": "up", "service": "pydrv", "instance": ready["instance"]})
            driver.send({"op": "call", "id": 1, "action": "pydrv.add", "params": {"a": 2, "b": 40}})
            driver.send({"op": "call", "id": 2, "action": "pydrv.fail", "params": {"code": "OVERLOADED", "message": "busy"}})
            driver.send({"op": "call", "id": 3, "action": "pydrv.relay", "params": {"action": "pydrv.echo", "params": [1, "two"]}})
            driver.send({"op": "emit", "id": 4, "event": "mixed.ping", "data": {"n": 1}})
            driver.send({"op": "call", "id": 6, "action": "pydrv.echo", "params": None})
            driver.send({"op": "call", "id": 7, "action": "pydrv.echo"})
            driver.send({"op": "bench", "id": 5, "action": "pydrv.echo", "params": 7, "count": 20, "inflight": 4})
            assert await driver.line(lambda line: line.get("id") == 1) == {"op": "result", "id": 1, "result": {"sum": 42, "by": ready["instance"]}}
            assert await driver.line(lambda line: line.get("id") == 2) == {"op": "error", "id": 2, "code": "OVERLOADED", "message": "busy", "retryable": True}
            assert await driver.line(lambda line: line.get("id") == 3) == {"op": "result", "id": 3, "result": [1, "two"]}
            assert await driver.line(lambda line: line.get("id") == 4) == {"op": "emitted", "id": 4, "delivered": ["pydrv"], "failed": []}
            assert await driver.line(lambda line: line.get("id") == 6) == {"op": "result", "id": 6, "result": None}
            assert await driver.line(lambda line: line.get("id") == 7) == {"op": "result", "id": 7}
            bench = await driver.line(lambda line: line.get("id") == 5)
            assert (bench["op"], bench["count"], bench["errors"]) == ("bench", 20, 0) and bench["p99_ms"] >= bench["p50_ms"] > 0
            assert await driver.line(lambda line: line["op"] == "event") == {"op": "event", "event": "mixed.ping", "delivery": "emit", "sender": ready["instance"], "data": {"n": 1}}
            driver.process.send_signal(signal.SIGTERM)
            assert await driver.close() == 0
            assert driver.lines[-2:] == [{"op": "down", "service": "pydrv", "instance": ready["instance"], "reason": "stopped"}, {"op": "stopped"}]
        finally:
            await driver.close()

    run(scenario())


def readme_example() -> str:
    text = (PEER / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match is not None, "the README starts with a Python example"
    return match.group(1)


def test_the_readme_example_runs(topology: Any, run: Callable[..., Any], tmp_path: Path) -> None:
    script = tmp_path / "readme_example.py"
    script.write_text(readme_example(), encoding="utf-8")
    process = program([sys.executable, str(script)], topology)

    async def scenario() -> None:
        out = await lines_until(process, "stdout", lambda line: "greeting" in line, 20)
        assert "hello ana" in out[-1] and "says hello as ana" in "".join(out)
        await lines_until(process, "stdout", lambda line: line.strip() == "alive", 15)

    try:
        run(scenario())
    finally:
        assert stop_program(process) == 0, process.stderr.read() if process.stderr else ""


def test_the_hello_example_greets_its_peers(topology: Any, run: Callable[..., Any]) -> None:
    process = program([sys.executable, "examples/hello/python/hello.py", "--peers", "hello-py", "--heartbeat-ms", "100"], topology)

    async def scenario() -> None:
        greeting = await lines_until(process, "stdout", lambda line: line.startswith("{"), 20)
        reply = json.loads(greeting[-1])
        assert reply["peer"] == "hello-py" and reply["reply"]["greeting"] == "hello hello-py, from Python"
        logs = await lines_until(process, "stderr", lambda line: '"heartbeat heard"' in line, 15)
        assert any('"service up"' in line for line in logs) and all(json.loads(line) for line in logs)

    try:
        run(scenario())
    finally:
        assert stop_program(process, signal.SIGTERM) == 0


def test_start_fails_clearly_without_a_broker(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            nowhere = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
        lonely = Worky(topology, name="lonely", broker=nowhere, start_timeout=1.0)
        with pytest.raises(CorreioError) as error:
            await lonely.start()
        assert error.value.code == "UNAVAILABLE" and nowhere in error.value.message
        assert lonely.state == "stopped"
        await lonely.stop()  # idempotent after a failed start

    run(scenario())
