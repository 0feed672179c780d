"""Discovery by announcements on the proxy (FRAMES.md 4.1, as libs/service/src/discovery/AnnounceDiscovery.ts).

Each instance publishes ``service.announce`` on ``announce/<service>/``: on start with backoff until
it hears its own announcement back, then every ``interval``, and ``down`` when it stops; every
instance listens to ``announce/``. An instance silent ``liveness`` intervals is down (``expired``);
on hearing a new peer it announces early (at most once per half interval)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, Sequence

from ..errors import CorreioError
from ..publisher import Publisher
from .names import announce_topic
from .peers import Change, InstanceInfo, PeerTable

log = logging.getLogger(__name__)


class AnnounceDiscovery:
    def __init__(
        self,
        publisher: Publisher,
        *,
        service: str,
        version: int,
        instance: str,
        actions: Sequence[str],
        events: Sequence[str],
        interval: float = 2.0,
        liveness: int = 3,
        on_change: Callable[[Change], None],
    ) -> None:
        if interval <= 0 or liveness < 1:
            raise ValueError("discovery: interval must be positive and liveness at least 1")
        self._publisher = publisher
        self.service = service
        self._self: dict[str, Any] = {"service": service, "version": version, "instance": instance, "actions": sorted(actions), "events": sorted(events)}
        self.instance = instance
        self.interval = interval
        self.table = PeerTable(interval * liveness)
        self._on_change = on_change
        self._changed = asyncio.Event()  # set on every change, for wait_for
        self._echo = asyncio.Event()
        self._running = False
        self._last_announce = 0.0
        self._background: list[asyncio.Task[None]] = []
        self._early: asyncio.Task[None] | None = None

    async def start(self, timeout: float) -> None:
        """Announces until the own announcement comes back through the proxy (UNAVAILABLE after ``timeout``)."""
        self._running = True
        self._apply({**self._self, "state": "up"})  # known to itself at once
        loop = asyncio.get_running_loop()
        self._background.append(loop.create_task(self._every(self.interval / 2, self._sweep)))
        deadline = loop.time() + timeout
        attempt = 0
        while not self._echo.is_set() and loop.time() < deadline:
            await self._announce("up")
            wait = min(self.interval, 0.05 * 2 ** min(attempt, 3), max(0.0, deadline - loop.time()))
            attempt += 1
            try:
                await asyncio.wait_for(self._echo.wait(), wait)
            except asyncio.TimeoutError:
                pass
        if not self._echo.is_set():
            raise CorreioError("UNAVAILABLE", f"no announcement came back through the proxy within {timeout}s: is the proxy running?")
        self._background.append(loop.create_task(self._every(self.interval, lambda: self._announce("up"))))

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        for task in [*self._background, *([self._early] if self._early else [])]:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self._announce("down")
        self._emit(self.table.clear(self.instance, time.monotonic()))

    def receive(self, body: Mapping[str, Any]) -> None:
        """Applies one announcement heard on the proxy."""
        if not self._running:
            return
        if body["instance"] == self.instance:
            self._echo.set()
            if body["state"] == "down":
                return  # our own farewell from an earlier run is not news
        is_new = body["state"] == "up" and not self.table.has(body["instance"])
        self._apply(body)
        if is_new and body["instance"] != self.instance:
            self._announce_soon()

    def instances(self, service: str | None = None) -> list[InstanceInfo]:
        return self.table.instances(service)

    def subscribers(self, event: str) -> list[str]:
        return self.table.subscribers(event)

    async def wait_for(self, services: Sequence[str], timeout: float) -> None:
        """Returns once every named service has a live instance; TIMEOUT naming the missing ones."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            missing = [service for service in services if not self.table.is_up(service)]
            if not missing:
                return
            left = deadline - loop.time()
            if left <= 0:
                raise CorreioError("TIMEOUT", f"services not up after {timeout}s: {', '.join(missing)}", data={"missing": missing, "timeout": round(timeout * 1000)})
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def _apply(self, announcement: Mapping[str, Any]) -> None:
        self._emit(self.table.apply(announcement, time.monotonic()))

    def _sweep(self) -> Awaitable[None] | None:
        self._emit(self.table.expire(time.monotonic()))
        return None

    def _emit(self, changes: list[Change]) -> None:
        for change in changes:
            try:
                self._on_change(change)
            except Exception:  # noqa: BLE001 - a listener never stops discovery
                log.exception("a discovery listener failed")
        if changes:
            self._changed.set()

    def _announce_soon(self) -> None:
        if self._early is not None and not self._early.done():
            return
        wait = max(0.0, self._last_announce + self.interval / 2 - time.monotonic())

        async def later() -> None:
            await asyncio.sleep(wait)
            if self._running:
                await self._announce("up")

        self._early = asyncio.get_running_loop().create_task(later())

    async def _announce(self, state: str) -> None:
        self._last_announce = time.monotonic()
        body = {**self._self, "state": state, "at": time.time_ns() // 1_000_000}
        try:
            await self._publisher.publish(announce_topic(self.service), "service.announce", [body])
        except Exception as error:  # noqa: BLE001 - one lost heartbeat; the next comes an interval later
            log.warning("announcement not sent: %s", error)

    async def _every(self, period: float, action: Callable[[], Awaitable[None] | None]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                result = action()
                if result is not None:
                    await result
            except Exception:  # noqa: BLE001 - the loop outlives one failure
                log.exception("discovery: periodic step failed")
