"""What handlers receive: ``ctx`` (call, emit, broadcast; who called; the deadline) and events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

from .client import NO_PARAMS

if TYPE_CHECKING:
    from .logs import ServiceLog
    from .service import EmitReport, Service


@dataclass(frozen=True)
class Event:
    """One event as a handler receives it."""

    name: str
    data: Any
    sender: str
    delivery: Literal["broadcast", "emit"]
    group: str | None
    id: str
    lc: int


@dataclass
class Context:
    """The context of one action, event or task run. Nested calls inherit its meta and deadline."""

    service: "Service"
    log: "ServiceLog"
    meta: Mapping[str, str] = field(default_factory=dict)
    #: loop.time() by which the caller stops waiting (actions called with correio.timeout).
    deadline: float | None = None

    @property
    def instance(self) -> str:
        return self.service.instance

    def remaining(self) -> float | None:
        """Seconds left before the caller's deadline, if it gave one."""
        return None if self.deadline is None else self.deadline - asyncio.get_running_loop().time()

    async def call(self, action: str, params: Any = NO_PARAMS, *, timeout: float | None = None, retries: int | None = None, meta: Mapping[str, str] | None = None) -> Any:
        """Calls an action; within an action, never past the caller's deadline."""
        remaining = self.remaining()
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        return await self.service.call(action, params, timeout=timeout, retries=retries, meta={**self.meta, **(meta or {})})

    async def emit(self, event: str, data: Any = None, *, timeout: float | None = None, retries: int | None = None) -> "EmitReport":
        return await self.service.emit(event, data, timeout=timeout, retries=retries)

    async def broadcast(self, event: str, data: Any = None, *, group: str | None = None) -> None:
        await self.service.broadcast(event, data, group=group)


@dataclass
class ActionContext(Context):
    action: str = ""
    id: str = ""
    #: The caller's instance (the envelope's ``from``).
    caller: str = ""
    lc: int = 0
    #: False when the request carried no params (the handler then gets None, as for a nil).
    has_params: bool = False


@dataclass
class TaskContext(Context):
    task: str = ""
    run: int = 0
    #: Set when the service stops; a long-running task loops until it is set.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def sleep(self, seconds: float) -> bool:
        """Sleeps, waking early when the service stops; True if it is stopping."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        return self.stopping.is_set()
