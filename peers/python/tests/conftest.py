"""Shared fixtures: a fresh ZeroMQ context per test, and a bounded asyncio runner."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Iterator

import pytest
import zmq.asyncio

#: No test may run longer than this, whatever goes wrong.
TEST_DEADLINE = 30.0


@pytest.fixture
def context() -> Iterator[zmq.asyncio.Context]:
    ctx = zmq.asyncio.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def run() -> Callable[[Awaitable[Any]], Any]:
    """Runs a coroutine to completion in a new event loop, failing it after TEST_DEADLINE."""

    def runner(coroutine: Awaitable[Any]) -> Any:
        return asyncio.run(asyncio.wait_for(coroutine, TEST_DEADLINE))

    return runner


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The real TypeScript broker and proxy (tools/interop/src/serveTopology.ts --servers 0 --proxy),
    started once for every test that asks for them."""
    from .cluster import start_cluster

    started = start_cluster(tmp_path_factory.mktemp("services"), servers=0, auth="open", proxy=True)
    yield started
    started.stop()
