"""A Python microservice behind a Correio broker, for the interoperability tests (tools/interop).

    python -m interop.echo_worker --broker tcp://127.0.0.1:5555 --name pyecho

Serves, as ``service.call.request`` on broker service ``svc.<name>``, the actions ``<name>.echo``
(returns its params) and ``<name>.add`` (the sum of an array of integers, BAD_REQUEST otherwise),
like the Go command peers/go/cmd/correio-echo. Prints ``{"ready": true, "service", "from"}``
once started, and runs until stdin ends or SIGTERM (then it sends DISCONNECT).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any, AsyncIterator, Mapping

from correio import ActionHandler, CorreioError, MdpWorker, Stamp, new_node_id

from .lines import read_lines, write


def add(params: Any, _meta: Mapping[str, str]) -> int:
    if not isinstance(params, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in params):
        raise CorreioError("BAD_REQUEST", "add takes an array of integers")
    return sum(params)


async def run(args: argparse.Namespace) -> None:
    actions = ActionHandler({f"{args.name}.echo": lambda params, _meta: params, f"{args.name}.add": add})
    stamp = Stamp(new_node_id(f"py-worker-{args.name}"))
    async with MdpWorker(args.broker, actions.service, actions, stamp=stamp, heartbeat=args.heartbeat, concurrency=args.concurrency):
        write({"ready": True, "service": actions.service, "from": stamp.sender})
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        waits = [asyncio.ensure_future(_drain(read_lines())), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()


async def _drain(lines: AsyncIterator[str]) -> None:
    async for _line in lines:
        pass  # input means nothing here; its end means stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default="tcp://127.0.0.1:5555", help="the broker's MDP endpoint")
    parser.add_argument("--name", default="pyecho", help="the microservice name; the broker service is svc.<name>")
    parser.add_argument("--concurrency", type=int, default=2, help="worker connections (requests served at once)")
    parser.add_argument("--heartbeat", type=float, default=2.5, help="MDP heartbeat interval in seconds; must match the broker")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
