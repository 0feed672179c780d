"""Runs lifecycle hooks one at a time, in the order they were queued; a failing hook is logged."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Callable

log = logging.getLogger(__name__)

#: Hooks waiting at most; beyond that the oldest are dropped (a flood of announcements).
MAX_QUEUED = 10_000


class HookQueue:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, Callable[[], Any]]] = asyncio.Queue(MAX_QUEUED)
        self._runner: asyncio.Task[None] | None = None
        self.dropped = 0

    def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    def push(self, name: str, hook: Callable[[], Any]) -> None:
        if self._queue.full():
            self.dropped += 1
            log.warning("hook %s dropped: %d hooks already waiting", name, MAX_QUEUED)
            return
        self._queue.put_nowait((name, hook))

    async def idle(self, timeout: float) -> None:
        """Waits (bounded) until every queued hook ran, then stops the runner."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except asyncio.TimeoutError:
            log.warning("hooks still running after %.1fs; cancelled", timeout)
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            name, hook = await self._queue.get()
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - a hook never stops the service
                log.exception("hook %s failed", name)
            finally:
                self._queue.task_done()
