"""The Lamport clock every envelope carries in ``lc`` (ENCODING.md section 4), under the protocol's
bounds (ENCODING.md section 4.1): the same rule as the TypeScript ``LamportBounds``."""

from __future__ import annotations

import threading
import time
from typing import Callable

from .codec import MAX_SAFE_INTEGER

#: The last values below 2^53 - 1 that only a clock's own ticks may reach.
LAMPORT_ROOM = 2**32
#: No received value lifts a clock above this.
MAX_MERGED_LAMPORT = MAX_SAFE_INTEGER - LAMPORT_ROOM


class LamportExhausted(OverflowError):
    """The clock is at 2^53 - 1 and cannot issue another value."""

    def __init__(self) -> None:
        super().__init__("the Lamport clock is at 2^53 - 1 and cannot issue another value")


class LamportClock:
    """Ticks once per send; on receive merges ``max(lc, bounded(remote)) + 1``. Thread-safe.

    ``bounded(remote)`` is ``remote`` when it is at most ``free_jump`` above the clock, or when the
    larger jump fits a budget of at most ``max_jump`` that refills at ``refill_per_second``; beyond
    that it is clamped, and nothing is merged above ``MAX_MERGED_LAMPORT``. A request beyond the
    bounds is merged clamped like anything else and served, never refused: a refusal let an attacker
    who had spent a peer's budget cut honest peers off from it. At 2^53 - 1 ``tick`` raises
    LamportExhausted: the peer degrades, never wraps.
    """

    def __init__(
        self,
        start: int = 0,
        *,
        free_jump: int = 2**16,
        max_jump: int = 2**32,
        refill_per_second: int = 2**20,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= start <= MAX_SAFE_INTEGER:
            raise ValueError(f"a Lamport clock starts in 0 .. 2^53-1, got {start}")
        self._value = start
        self._lock = threading.Lock()
        self._free_jump = free_jump
        self._max_jump = max_jump
        self._refill_per_second = refill_per_second
        self._monotonic = monotonic
        self._budget = float(max_jump)
        self._refilled_at = monotonic()
        #: Values merged only up to the bound, and how many of them were requests.
        self.clamped = 0
        self.clamped_requests = 0

    @property
    def value(self) -> int:
        return self._value

    def tick(self) -> int:
        """Advances the clock for one send and returns the value to write into ``lc``."""
        with self._lock:
            if self._value >= MAX_SAFE_INTEGER:
                raise LamportExhausted()
            self._value += 1
            return self._value

    def observe(self, remote: int, *, request: bool = False) -> bool:
        """Lamport's receive rule under the bounds; True when ``remote`` lay beyond them and was clamped
        (counted, in ``clamped_requests`` too for a request). Ignores what is not a clock value, never raises."""
        if not isinstance(remote, int) or isinstance(remote, bool) or not 0 <= remote <= MAX_SAFE_INTEGER:
            return False
        with self._lock:
            limit = self._limit()
            merged = min(remote, limit)
            clamped = remote > limit
            if clamped:
                self.clamped += 1
                self.clamped_requests += int(request)
            if merged - self._value > self._free_jump:
                self._budget = max(0.0, self._budget - (merged - self._value))
            self._value = min(MAX_SAFE_INTEGER, max(self._value, merged) + 1)
            return clamped

    def _limit(self) -> int:
        now = self._monotonic()
        self._budget = min(float(self._max_jump), self._budget + max(0.0, now - self._refilled_at) * self._refill_per_second)
        self._refilled_at = now
        return max(self._value, min(MAX_MERGED_LAMPORT, self._value + max(self._free_jump, int(self._budget))))
