"""Interop: Python and Go workers behind the TypeScript broker (apps/broker), called from Python and Go.

Spawns ``tsx apps/broker/src/main.ts`` on a free loopback port, builds the Go commands of
peers/go/cmd, and checks that every client reaches every worker through the real broker, errors
included. Skipped when the broker app, tsx or Go is not available.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from correio import ActionHandler, CorreioError, MdpClient, MdpWorker

REPO = Path(__file__).resolve().parents[3]
BROKER_MAIN = REPO / "apps" / "broker" / "src" / "main.ts"
TSX = REPO / "node_modules" / ".bin" / "tsx"
GO_PEER = REPO / "peers" / "go"
STARTUP = 120.0  # seconds: tsx compiles on start, and the machine has 2 shared cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_for_line(process: subprocess.Popen, prefix: str, timeout: float) -> str:
    """Reads the process's stdout until a line starts with ``prefix`` (bounded by ``timeout``)."""
    lines: list[str] = []

    def read() -> str:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"exited ({process.poll()}) before printing {prefix!r}: {''.join(lines)}")

    try:
        return asyncio.run(asyncio.wait_for(asyncio.to_thread(read), timeout))
    except asyncio.TimeoutError:
        stop(process)
        raise AssertionError(f"no {prefix!r} line within {timeout}s: {''.join(lines)}") from None


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    if not BROKER_MAIN.is_file() or not TSX.exists():
        pytest.skip("the TypeScript broker (apps/broker) or tsx is not available")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [str(TSX), "--conditions=@correio/source", str(BROKER_MAIN), "--endpoint", endpoint, "--id", "broker-interop", "--log-level", "warn"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        wait_for_line(process, "broker ready", STARTUP)
        yield endpoint
    finally:
        stop(process)


@pytest.fixture(scope="module")
def go_commands(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.skip("Go is not installed")
    out = tmp_path_factory.mktemp("go-bin")
    subprocess.run(["go", "build", "-o", str(out), "./cmd/..."], cwd=GO_PEER, check=True, timeout=600, env={**os.environ, "GOFLAGS": "-buildvcs=false"})
    return out


@pytest.fixture
def go_worker(broker: str, go_commands: Path) -> Iterator[None]:
    process = subprocess.Popen([str(go_commands / "correio-echo"), "-endpoint", broker, "-name", "goecho"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for_line(process, "ready", 30)
        yield
    finally:
        stop(process)


async def go_call(go_commands: Path, broker: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(str(go_commands / "correio-call"), "-endpoint", broker, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode().strip(), err.decode().strip()


def test_python_and_go_peers_through_the_typescript_broker(broker: str, go_commands: Path, go_worker: None, context, run) -> None:
    actions = ActionHandler({"pyecho.echo": lambda params, meta: params, "pyecho.add": lambda params, meta: sum(params)})

    async def scenario() -> None:
        async with MdpWorker(broker, actions.service, actions, context=context, concurrency=2):
            async with MdpClient(broker, context=context, timeout=10, retries=2) as client:
                # Python client -> TypeScript broker -> Go worker, and -> Python worker.
                payload = {"text": "olá", "n": [1, -2, 2**53 - 1], "bin": b"\x00\xff", "none": None, "yes": True}
                go_reply = await client.call("svc.goecho", "service.call.request", {"action": "goecho.echo", "params": payload})
                assert go_reply["result"] == payload
                py_reply = await client.call("svc.pyecho", "service.call.request", {"action": "pyecho.add", "params": [1, 2, 39]})
                assert py_reply["result"] == 42
                sums = await asyncio.gather(*(client.call("svc.goecho", "service.call.request", {"action": "goecho.add", "params": [i, i]}) for i in range(30)))
                assert [s["result"] for s in sums] == [2 * i for i in range(30)]
                with pytest.raises(CorreioError) as raised:
                    await client.call("svc.goecho", "service.call.request", {"action": "goecho.nope"})
                assert raised.value.code == "NOT_FOUND"
                assert await client.service_exists("svc.goecho") and await client.service_exists("svc.pyecho")
                assert not await client.service_exists("svc.nothing")

            # Go client -> TypeScript broker -> Python worker, and -> Go worker.
            assert await go_call(go_commands, broker, "-action", "pyecho.add", "-params", "[20, 22]") == (0, "42", "")
            assert await go_call(go_commands, broker, "-action", "goecho.echo", "-params", '{"a": [1, "b"]}') == (0, '{"a":[1,"b"]}', "")
            status, _, err = await go_call(go_commands, broker, "-action", "pyecho.nope")
            assert status == 1 and err.startswith("NOT_FOUND")
            assert (await go_call(go_commands, broker, "-exists", "svc.pyecho"))[1] == "true"

    run(scenario())
