"""Rates such as ``"10/s"`` and the token bucket that keeps to one, as libs/tasks/src/rate.ts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_RATE = re.compile(r"^(\d{1,9})/(s|m|h)$")


@dataclass(frozen=True)
class Rate:
    count: int
    per_seconds: float


def parse_rate(text: str) -> Rate:
    """``"<count>/<s|m|h>"`` with a count of at least 1, such as ``"10/s"``; ValueError otherwise."""
    match = _RATE.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(f"not a rate: {text!r} (expected <count>/<s|m|h> with a count of at least 1, such as 10/s)")
    return Rate(int(match.group(1)), _UNITS[match.group(2)])


class TokenBucket:
    """Up to ``count`` at once (a burst), refilled evenly over the rate's period."""

    def __init__(self, rate: Rate, now: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._now = now
        self._tokens = float(rate.count)
        self._at = now()

    def take(self) -> bool:
        """Takes one token if there is one."""
        self._refill()
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def wait(self) -> float:
        """Seconds until a token is there."""
        self._refill()
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) * self._rate.per_seconds / self._rate.count

    def _refill(self) -> None:
        now = self._now()
        self._tokens = min(float(self._rate.count), self._tokens + (now - self._at) * self._rate.count / self._rate.per_seconds)
        self._at = now
