"""``correio.service``: microservices on Correio, in asyncio, speaking exactly the service messages of
the TypeScript framework (@correio/service) and the Go one.

    class Greeter(Service):
        name = "greeter"

        @action
        async def hello(self, ctx: ActionContext, params: HelloParams) -> dict:
            return {"greeting": f"hello {params['name']}"}

        @task(every=5)
        async def heartbeat(self, ctx: TaskContext) -> None:
            await ctx.broadcast("greeter.alive", {"instance": ctx.instance})

    asyncio.run(Greeter(broker=..., proxy_pub=..., proxy_sub=...).run())
"""

import logging

from ..errors import CorreioError
from .actions import NIL
from .backoff import Backoff
from .circuit import CircuitBreakerOptions
from .client import ServiceClient
from .context import ActionContext, Context, Event, TaskContext
from .decorators import action, on, task
from .logs import JsonFormatter, configure_logging
from .peers import InstanceInfo
from .service import EmitReport, Service

# Quiet unless the application configures logging.
logging.getLogger("correio.service").addHandler(logging.NullHandler())

__all__ = [
    "ActionContext",
    "Backoff",
    "CircuitBreakerOptions",
    "Context",
    "CorreioError",
    "EmitReport",
    "Event",
    "InstanceInfo",
    "JsonFormatter",
    "NIL",
    "Service",
    "ServiceClient",
    "TaskContext",
    "action",
    "configure_logging",
    "on",
    "task",
]
