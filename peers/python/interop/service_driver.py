"""The service driver of tools/interop/SERVICE-DRIVER.md, on correio.service:

    python -m interop.service_driver --name py --broker tcp://127.0.0.1:5555 \\
        --proxy-pub tcp://127.0.0.1:5560 --proxy-sub tcp://127.0.0.1:5561

Serves NAME.echo/add/fail/slow/relay, handles ``mixed.ping``, broadcasts ``mixed.heartbeat`` every
second; reads JSON commands (call, emit, broadcast, bench, stop) on stdin and prints JSON lines on
stdout (ready, up, down, event, result, error, emitted, bench, stopped). Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any, Mapping, TypedDict

from correio.generated.catalogue import ERROR_CODES
from correio.service import NIL, ActionContext, Context, CorreioError, Event, InstanceInfo, Service, TaskContext, action, configure_logging, on, task
from correio.service.client import NO_PARAMS

from .lines import read_lines, write

#: Codes the fail action marks retryable (the rest are not).
RETRYABLE = {"UNAVAILABLE", "TIMEOUT", "OVERLOADED"}


class AddParams(TypedDict):
    a: float
    b: float


class FailParams(TypedDict):
    code: str
    message: str


class SlowParams(TypedDict):
    ms: int


class RelayParams(TypedDict, total=False):
    action: str
    params: Any


class DriverService(Service):
    version = 1

    @action
    async def echo(self, ctx: ActionContext, params: Any) -> Any:
        if not ctx.has_params:
            return None  # no result
        return NIL if params is None else params

    @action
    async def add(self, ctx: ActionContext, params: AddParams) -> dict[str, Any]:
        return {"sum": params["a"] + params["b"], "by": self.instance}

    @action
    async def fail(self, ctx: ActionContext, params: FailParams) -> None:
        if params["code"] not in ERROR_CODES:
            raise CorreioError("VALIDATION", f"params.code: unknown error code {params['code']!r}", data={"path": "/body/params/code"})
        raise CorreioError(params["code"], params["message"], retryable=params["code"] in RETRYABLE)

    @action
    async def slow(self, ctx: ActionContext, params: SlowParams) -> dict[str, Any]:
        write({"op": "slow", "ms": params["ms"], "by": self.instance})
        await asyncio.sleep(max(0, params["ms"]) / 1000)  # cancelled at the caller's deadline or the drain's end
        return {"slept": params["ms"], "by": self.instance}

    @action
    async def relay(self, ctx: ActionContext, params: RelayParams) -> Any:
        if not isinstance(params.get("action"), str):
            raise CorreioError("VALIDATION", "params.action: expected a string", data={"path": "/body/params/action"})
        return await ctx.call(params["action"], params.get("params", NO_PARAMS))

    @on("mixed.ping")
    async def ping(self, ctx: Context, event: Event) -> None:
        write({"op": "event", "event": event.name, "delivery": event.delivery, "sender": event.sender, "data": event.data})

    @task(every=1.0)
    async def heartbeat(self, ctx: TaskContext) -> None:
        await ctx.broadcast("mixed.heartbeat", {"instance": self.instance})

    async def on_service_up(self, info: InstanceInfo) -> None:
        write({"op": "up", "service": info.service, "instance": info.instance})

    async def on_service_down(self, info: InstanceInfo, reason: str) -> None:
        write({"op": "down", "service": info.service, "instance": info.instance, "reason": reason})


def _error_line(command_id: Any, error: BaseException) -> dict[str, Any]:
    wrapped = CorreioError.wrap(error) if isinstance(error, Exception) else CorreioError("UNAVAILABLE", "cancelled")
    return {"op": "error", "id": command_id, "code": wrapped.code, "message": wrapped.message, "retryable": wrapped.retryable}


async def _call(service: Service, command: Mapping[str, Any]) -> None:
    timeout = command.get("timeout_ms")
    try:
        reply = await service.client.call_reply(
            command["action"], command.get("params", NO_PARAMS),
            timeout=timeout / 1000 if isinstance(timeout, (int, float)) else None, retries=command.get("retries"),
        )
    except Exception as error:  # noqa: BLE001 - every failure is reported as an error line
        write(_error_line(command.get("id"), error))
        return
    write({"op": "result", "id": command.get("id")} | ({"result": reply["result"]} if "result" in reply else {}))


async def _emit(service: Service, command: Mapping[str, Any]) -> None:
    report = await service.emit(command["event"], command.get("data"))
    write({"op": "emitted", "id": command.get("id"), "delivered": report.delivered, "failed": [group for group, _ in report.failed]})


async def _bench(service: Service, command: Mapping[str, Any]) -> None:
    count, inflight = int(command["count"]), max(1, int(command.get("inflight", 1)))
    params = command.get("params", NO_PARAMS)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    remaining = iter(range(count))

    async def caller() -> None:
        nonlocal errors
        for _ in remaining:
            begun = time.perf_counter()
            try:
                await service.call(command["action"], params)
            except CorreioError:
                errors += 1
            latencies.append((time.perf_counter() - begun) * 1000)

    await asyncio.gather(*(caller() for _ in range(min(inflight, count) or 1)))
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)

    def percentile(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3) if ordered else 0.0

    write({"op": "bench", "id": command.get("id"), "count": count, "errors": errors, "seconds": round(seconds, 6), "p50_ms": percentile(0.5), "p99_ms": percentile(0.99)})


async def _command(service: Service, command: Mapping[str, Any]) -> None:
    op = command.get("op")
    try:
        if op == "call":
            await _call(service, command)
        elif op == "emit":
            await _emit(service, command)
        elif op == "broadcast":
            await service.broadcast(command["event"], command.get("data"))
        elif op == "bench":
            await _bench(service, command)
        elif op == "stop":
            service.request_stop()
        else:
            logging.getLogger("interop.service_driver").warning("unknown command %r", op)
    except Exception as error:  # noqa: BLE001 - a bad command never stops the driver
        logging.getLogger("interop.service_driver").warning("command %r failed: %s", op, error)
        if "id" in command:
            write(_error_line(command["id"], error))


async def _read_commands(service: Service, running: set[asyncio.Task[None]]) -> None:
    async for line in read_lines():
        try:
            command = json.loads(line)
        except ValueError:
            logging.getLogger("interop.service_driver").warning("not a JSON line: %r", line[:200])
            continue
        if isinstance(command, dict):
            task = asyncio.get_running_loop().create_task(_command(service, command))
            running.add(task)
            task.add_done_callback(running.discard)
    service.request_stop()  # the end of input stops the program


async def run(args: argparse.Namespace) -> None:
    options: dict[str, Any] = {}
    if args.concurrency is not None:
        options["concurrency"] = args.concurrency
    if args.announce_interval is not None:
        options["announce_interval"] = args.announce_interval / 1000
    service = DriverService(name=args.name, instance=args.instance, broker=args.broker, proxy_pub=args.proxy_pub, proxy_sub=args.proxy_sub, **options)
    await service.start()
    write({"op": "ready", "service": service.name, "instance": service.instance})
    running: set[asyncio.Task[None]] = set()
    reader = asyncio.get_running_loop().create_task(_read_commands(service, running))
    try:
        await service.serve()
    finally:
        reader.cancel()
        for pending in list(running):
            pending.cancel()
        await asyncio.gather(reader, *running, return_exceptions=True)
    write({"op": "stopped"})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--instance")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--proxy-pub", required=True)
    parser.add_argument("--proxy-sub", required=True)
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--announce-interval", type=float, help="ms")
    args = parser.parse_args(argv)
    configure_logging("warning", sys.stderr)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
