"""Serving a retry once (as libs/service/src/middleware/deduplicate.ts): a request whose caller,
action and id were seen within ``ttl`` gets the first one's outcome (joining it while it still runs)
instead of running the handler again. Retryable failures are not remembered, so a retry of a
timed-out call does run again. At most ``max_entries`` outcomes; the oldest are forgotten first."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from ..errors import CorreioError


class Deduplicator:
    def __init__(self, *, ttl: float = 60.0, max_entries: int = 10_000, now: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0 or max_entries < 1:
            raise ValueError("deduplicate: ttl must be positive and max_entries at least 1")
        self.ttl = ttl
        self.max_entries = max_entries
        self._now = now
        # Insertion order is age order: the first entries are the oldest.
        self._seen: dict[tuple[str, str, str], tuple[asyncio.Future[Any], float]] = {}
        #: Requests answered from memory.
        self.hits = 0

    def __len__(self) -> int:
        return len(self._seen)

    async def run(self, key: tuple[str, str, str], work: Callable[[], Awaitable[Any]]) -> Any:
        now = self._now()
        self._evict(now)
        known = self._seen.get(key)
        if known is not None and known[1] > now:
            self.hits += 1
            return await asyncio.shield(known[0])
        outcome: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        outcome.add_done_callback(_consume)
        self._seen.pop(key, None)
        self._seen[key] = (outcome, float("inf"))  # kept while it runs
        try:
            result = await work()
        except BaseException as error:
            retryable = not isinstance(error, CorreioError) or error.retryable
            if retryable:
                self._seen.pop(key, None)
            else:
                self._seen[key] = (outcome, self._now() + self.ttl)
            outcome.set_exception(error if isinstance(error, Exception) else CorreioError("UNAVAILABLE", "the first attempt was cancelled"))
            raise
        self._seen[key] = (outcome, self._now() + self.ttl)
        outcome.set_result(result)
        return result

    def _evict(self, now: float) -> None:
        while self._seen:
            key, (_, expires_at) = next(iter(self._seen.items()))
            if len(self._seen) <= self.max_entries and expires_at > now:
                return
            del self._seen[key]


def _consume(future: asyncio.Future[Any]) -> None:
    # Nobody may be joining: read the exception so asyncio does not report it as never retrieved.
    if not future.cancelled():
        future.exception()
