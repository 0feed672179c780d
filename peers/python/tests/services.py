"""Helpers of the service tests: endpoints of the shared topology, services started and always stopped."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from correio.service import Service

from .cluster import Cluster

PEER = Path(__file__).resolve().parents[1]
REPO = PEER.parents[1]

#: Fast discovery for tests: instances learn about each other within a fraction of a second (new peers
#: trigger an early announcement), yet a loop stalled by a busy machine does not expire anyone.
FAST = {"announce_interval": 0.5, "start_timeout": 20.0}


def endpoints(topology: Cluster) -> dict[str, str]:
    return {"broker": topology.broker, "proxy_pub": topology.proxy_pub, "proxy_sub": topology.proxy}


@contextlib.asynccontextmanager
async def running(*services: Service) -> AsyncIterator[tuple[Service, ...]]:
    """Starts the services (in order) and stops every one of them on the way out."""
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        yield services
    finally:
        await asyncio.gather(*(service.stop() for service in started), return_exceptions=True)


async def until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "the condition") -> Any:
    """Polls ``condition`` until it is truthy (bounded), returning its value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


class Driver:
    """interop/service_driver.py in its own process, driven by JSON lines."""

    def __init__(self, topology: Cluster, name: str, *extra: str) -> None:
        command = [sys.executable, "-m", "interop.service_driver", "--name", name, "--broker", topology.broker,
                   "--proxy-pub", topology.proxy_pub, "--proxy-sub", topology.proxy, *extra]
        self.process = subprocess.Popen(command, cwd=PEER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> dict[str, Any]:
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return await self.line(lambda line: line["op"] == "ready", timeout=20)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            text = await asyncio.to_thread(self.process.stdout.readline)
            if not text:
                return
            self.lines.append(json.loads(text))

    async def line(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        return await until(lambda: next((line for line in self.lines if match(line)), None), timeout, "a driver line")

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)

    async def close(self) -> int:
        if self.process.poll() is None and self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            status = await asyncio.wait_for(asyncio.to_thread(self.process.wait), 15)
        except asyncio.TimeoutError:
            self.process.kill()
            status = await asyncio.to_thread(self.process.wait)
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        return status


async def gather_bounded(*work: Awaitable[Any], timeout: float = 15.0) -> list[Any]:
    return list(await asyncio.wait_for(asyncio.gather(*work), timeout))


def program(command: list[str], topology: Any, stderr: int = subprocess.PIPE) -> subprocess.Popen[str]:
    """A program with the topology's endpoints in CORREIO_BROKER, CORREIO_PROXY_PUB and CORREIO_PROXY_SUB."""
    variables = {**os.environ, "PYTHONPATH": str(PEER), "PYTHONUNBUFFERED": "1", "CORREIO_BROKER": topology.broker,
                 "CORREIO_PROXY_PUB": topology.proxy_pub, "CORREIO_PROXY_SUB": topology.proxy}
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True, env=variables)


async def lines_until(process: subprocess.Popen[str], stream: str, match: Callable[[str], bool], timeout: float) -> list[str]:
    seen: list[str] = []
    pipe = getattr(process, stream)

    async def read() -> None:
        while True:
            line = await asyncio.to_thread(pipe.readline)
            if not line:
                raise AssertionError(f"the program ended (status {process.poll()}) before the expected line; it printed {seen}")
            seen.append(line)
            if match(line):
                return

    await asyncio.wait_for(read(), timeout)
    return seen


def stop_program(process: subprocess.Popen[str], signal_number: int = signal.SIGINT) -> int:
    process.send_signal(signal_number)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
