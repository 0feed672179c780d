"""The hello service in Python: one action, one heartbeat task, and the hooks that watch the other
languages' hello services come and go. The same service exists in TypeScript and Go
(examples/hello/ts, examples/hello/go); run all three and they greet each other.

    PYTHONPATH=peers/python .venv/bin/python examples/hello/python/hello.py --peers hello-ts,hello-go
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from typing import Any, TypedDict

from correio.service import ActionContext, Context, Event, InstanceInfo, Service, TaskContext, action, configure_logging, on, task

log = logging.getLogger("correio.service.example")


class HelloParams(TypedDict):
    name: str


class Hello(Service):
    name = "hello-py"

    def __init__(self, *, heartbeat: float, **options: Any) -> None:
        super().__init__(**options)
        self.heartbeat_period = heartbeat

    @action
    async def hello(self, ctx: ActionContext, params: HelloParams) -> dict[str, str]:
        """hello-py.hello {name} -> a greeting, and which instance gave it."""
        log.info("hello called", extra={"caller": ctx.caller, "greeted": params["name"]})
        return {"greeting": f"hello {params['name']}, from Python", "by": self.instance}

    @task
    async def heartbeat(self, ctx: TaskContext) -> None:
        """Tells every hello service, in every language, that this one is alive."""
        while not await ctx.sleep(self.heartbeat_period):
            await ctx.broadcast("hello.heartbeat", {"instance": self.instance, "lang": "py"})

    @on("hello.heartbeat")
    async def heard(self, ctx: Context, event: Event) -> None:
        log.info("heartbeat heard", extra={"from": event.sender, "lang": (event.data or {}).get("lang")})

    async def on_service_up(self, info: InstanceInfo) -> None:
        log.info("service up", extra={"service": info.service, "instance": info.instance})

    async def on_service_down(self, info: InstanceInfo, reason: str) -> None:
        log.info("service down", extra={"service": info.service, "instance": info.instance, "reason": reason})


async def main() -> None:
    parser = argparse.ArgumentParser(description="the hello service in Python")
    parser.add_argument("--broker", default=os.environ.get("CORREIO_BROKER", "tcp://127.0.0.1:5555"))
    parser.add_argument("--proxy-pub", default=os.environ.get("CORREIO_PROXY_PUB", "tcp://127.0.0.1:5570"))
    parser.add_argument("--proxy-sub", default=os.environ.get("CORREIO_PROXY_SUB", "tcp://127.0.0.1:5571"))
    parser.add_argument("--peers", default="", help="hello services to greet once they are up, such as hello-ts,hello-go")
    parser.add_argument("--heartbeat-ms", type=int, default=5000)
    args = parser.parse_args()
    configure_logging(os.environ.get("CORREIO_LOG_LEVEL", "info"))
    peers = [peer for peer in args.peers.split(",") if peer]

    service = Hello(broker=args.broker, proxy_pub=args.proxy_pub, proxy_sub=args.proxy_sub, heartbeat=args.heartbeat_ms / 1000)
    await service.start()
    await service.wait_for(peers, timeout=60)
    for peer in peers:
        reply = await service.call(f"{peer}.hello", {"name": "hello-py"})
        print(json.dumps({"peer": peer, "reply": reply}), flush=True)
    await service.serve()  # until SIGTERM or SIGINT, then a graceful drain


if __name__ == "__main__":
    asyncio.run(main())
