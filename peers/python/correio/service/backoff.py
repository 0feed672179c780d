"""Exponential backoff with subtractive jitter (as libs/service/src/backoff.ts)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``attempt`` (1-based): ``initial * factor**(attempt-1)``, capped at ``maximum``,
    minus up to ``jitter`` of itself at random (so a crowd that failed together does not retry together)."""

    initial: float = 0.1
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial < 0 or self.maximum < 0 or self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff: initial and maximum >= 0, factor >= 1, jitter in 0..1")

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        exponent = max(0, min(attempt - 1, 64))
        base = min(self.maximum, self.initial * self.factor**exponent)
        return base - base * self.jitter * rand()
