"""The Python framework and the TypeScript one as equals: examples/hello/python and examples/hello/ts
against the same broker and proxy call each other's action, hear each other's heartbeat broadcasts
and see each other come and go (discovery)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from typing import Any, Callable

from .services import REPO, lines_until, program, stop_program


def test_python_and_typescript_hello_services_greet_each_other(topology: Any, run: Callable[..., Any]) -> None:
    python = program([sys.executable, "examples/hello/python/hello.py", "--peers", "hello-ts", "--heartbeat-ms", "200"], topology)
    typescript = program(["node", "--import", "tsx", "--conditions=@correio/source", str(REPO / "examples/hello/ts/hello.ts"),
                           "--broker", topology.broker, "--proxy-pub", topology.proxy_pub, "--proxy-sub", topology.proxy,
                           "--peers", "hello-py", "--heartbeat-ms", "200"], topology, stderr=subprocess.DEVNULL)

    async def scenario() -> None:
        from_ts, from_py = await asyncio.gather(
            lines_until(typescript, "stdout", lambda line: line.startswith("{"), 25),
            lines_until(python, "stdout", lambda line: line.startswith("{"), 25),
        )
        assert json.loads(from_ts[-1])["reply"]["greeting"] == "hello hello-ts, from Python"
        assert json.loads(from_py[-1])["reply"]["greeting"] == "hello hello-py, from TypeScript"
        heard = await lines_until(python, "stderr", lambda line: '"heartbeat heard"' in line and '"ts"' in line, 10)
        assert any('"service up"' in line and '"hello-ts"' in line for line in heard)
        assert await asyncio.to_thread(stop_program, typescript) == 0
        await lines_until(python, "stderr", lambda line: '"service down"' in line and '"hello-ts"' in line and '"announced"' in line, 10)

    try:
        asyncio.run(asyncio.wait_for(scenario(), 40))
    finally:
        stop_program(typescript)
        assert stop_program(python, signal.SIGTERM) == 0
