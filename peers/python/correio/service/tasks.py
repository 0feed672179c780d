"""Runs one background task under supervision (as libs/service/src/TaskSupervisor.ts): restarts it
with exponential backoff when it fails (logging the failure), runs periodic ones at a fixed rate,
and on stop() signals it, cancels it and waits (bounded) for it to end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine

from .backoff import Backoff
from .context import TaskContext

log = logging.getLogger(__name__)


class TaskSupervisor:
    def __init__(
        self,
        name: str,
        handler: Callable[[TaskContext], Coroutine[Any, Any, Any]],
        context: Callable[[asyncio.Event, int], TaskContext],
        *,
        every: float | None = None,
        immediate: bool = False,
        backoff: Backoff = Backoff(initial=0.1, maximum=30.0),
    ) -> None:
        self.name = name
        self._handler = handler
        self._context = context
        self._every = every
        self._immediate = immediate
        self._backoff = backoff
        self._stopping = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self.runs = 0
        self.restarts = 0
        self.last_error: BaseException | None = None

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._supervise(), name=f"task {self.name}")

    async def stop(self, grace: float) -> bool:
        """Signals and cancels the task; True when it ended within ``grace`` seconds."""
        self._stopping.set()
        if self._loop is None:
            return True
        self._loop.cancel()
        done, _ = await asyncio.wait({self._loop}, timeout=grace)
        if not done:
            log.warning("task %s ignored its cancellation; leaving it behind", self.name, extra={"task": self.name})
        return bool(done)

    async def _supervise(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        next_tick = loop.time() + (self._every if self._every is not None and not self._immediate else 0)
        while not self._stopping.is_set():
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
            started = loop.time()
            self.runs += 1
            try:
                await self._handler(self._context(self._stopping, self.runs))
            except Exception as error:  # noqa: BLE001 - supervised: logged, restarted after a backoff
                if self._stopping.is_set():
                    return
                # A long-running task that ran well for a while starts its backoff afresh.
                if self._every is None and loop.time() - started > self._backoff.maximum:
                    failures = 0
                failures += 1
                self.restarts += 1
                self.last_error = error
                delay = self._backoff.delay(failures)
                log.warning("task %s failed: %s; restarting in %.3fs", self.name, error, delay, exc_info=error, extra={"task": self.name, "restarts": self.restarts})
                next_tick = loop.time() + delay
                continue
            failures = 0
            if self._every is None:
                return  # a long-running task returned: completed
            # Fixed rate: the next tick after now, skipping ticks an overlong run missed.
            periods = max(1, -(-(loop.time() - started) // self._every))
            next_tick = started + self._every * periods
