"""A service's event handlers (as libs/service/src/EventRouter.ts): emitted events (one instance per
group, through the broker; the handler's failure goes back to the emitter) and broadcasts (every
instance, through the proxy; in arrival order per event, at most ``max_queued`` waiting per event,
beyond that dropped and counted; failures logged, since nobody waits for them)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine, Mapping

from ..errors import CorreioError
from .context import Context, Event
from .names import check_event_name

log = logging.getLogger(__name__)

EventHandler = Callable[[Context, Event], Coroutine[Any, Any, Any]]


class EventRouter:
    def __init__(self, service: str, instance: str, handlers: Mapping[str, EventHandler], *, max_queued: int = 1000) -> None:
        self.service = service
        self.instance = instance
        self._handlers = {check_event_name(event): handler for event, handler in handlers.items()}
        self._queues: dict[str, asyncio.Queue[tuple[Context, Event]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._max_queued = max_queued
        #: Broadcasts dropped because too many of the same event waited.
        self.dropped = 0
        #: Handler failures, emitted and broadcast.
        self.failures = 0

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for event in self._handlers:
            queue: asyncio.Queue[tuple[Context, Event]] = asyncio.Queue(self._max_queued)
            self._queues[event] = queue
            self._workers.append(loop.create_task(self._drain(event, queue)))

    async def handle_emit(self, request: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        """The reply body of one ``service.emit.request``, once the handler ran."""
        body = request["body"]
        event, group = body["event"], body["group"]
        if group != self.service:
            raise CorreioError("NOT_FOUND", f"event {event} was addressed to group {group}, but this is {self.service}", data={"event": event, "group": group})
        handler = self._handlers.get(event)
        if handler is None:
            raise CorreioError("NOT_FOUND", f"{self.service} does not handle event {event}", data={"event": event})
        incoming = Event(event, body.get("data"), body["sender"], "emit", group, request["id"], request["lc"])
        await self._run(handler, ctx, incoming)
        return {"instance": self.instance}

    def handle_broadcast(self, envelope: Mapping[str, Any], ctx: Context) -> None:
        """Queues one broadcast for its handler; ignores those addressed to another group."""
        body = envelope["body"]
        group = body.get("group")
        queue = self._queues.get(body["event"])
        if (group is not None and group != self.service) or queue is None:
            return
        if queue.full():
            self.dropped += 1
            log.warning("broadcast %s dropped: %d already waiting for the handler", body["event"], self._max_queued)
            return
        queue.put_nowait((ctx, Event(body["event"], body.get("data"), body["sender"], "broadcast", group, envelope["id"], envelope["lc"])))

    async def idle(self, timeout: float) -> None:
        """Waits (bounded) for the queued broadcasts, then stops the handlers' loops."""
        try:
            await asyncio.wait_for(asyncio.gather(*(queue.join() for queue in self._queues.values())), timeout)
        except asyncio.TimeoutError:
            log.warning("broadcasts still waiting after %.1fs; dropped", timeout)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _drain(self, event: str, queue: asyncio.Queue[tuple[Context, Event]]) -> None:
        handler = self._handlers[event]
        while True:
            ctx, incoming = await queue.get()
            try:
                await self._run(handler, ctx, incoming)
            except Exception:  # noqa: BLE001 - counted and logged by _run; nobody to answer
                pass
            finally:
                queue.task_done()

    async def _run(self, handler: EventHandler, ctx: Context, event: Event) -> None:
        try:
            await handler(ctx, event)
        except Exception as error:
            self.failures += 1
            wrapped = CorreioError.wrap(error)
            log.log(logging.ERROR if wrapped.code == "INTERNAL" else logging.WARNING, "event handler for %s failed: %s", event.name, wrapped.message,
                    exc_info=error if wrapped is not error else None, extra={"event": event.name, "delivery": event.delivery, "sender": event.sender, "code": wrapped.code})
            raise wrapped from error
