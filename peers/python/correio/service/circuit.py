"""A circuit breaker per action (as libs/service/src/middleware/circuitBreaker.ts): after ``threshold``
failures within ``window`` the circuit opens and calls fail at once with UNAVAILABLE; after
``cool_down`` one trial call goes through (half-open): its success closes the circuit, its failure
opens it again. Only retryable errors count: a VALIDATION says the caller is wrong, not the callee."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Literal

from ..errors import CorreioError

CircuitState = Literal["closed", "open", "half-open"]


@dataclass(frozen=True)
class CircuitBreakerOptions:
    threshold: int = 5
    window: float = 10.0
    cool_down: float = 5.0
    half_open_calls: int = 1

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.half_open_calls < 1 or self.window <= 0 or self.cool_down < 0:
            raise ValueError("circuit breaker: threshold and half_open_calls >= 1, window > 0, cool_down >= 0")


@dataclass(frozen=True)
class Permit:
    trial: bool


class Circuit:
    """One circuit: a state machine driven by ``acquire()`` and ``record()``."""

    def __init__(self, key: str, options: CircuitBreakerOptions, now: Callable[[], float] = time.monotonic) -> None:
        self.key = key
        self._options = options
        self._now = now
        self.state: CircuitState = "closed"
        self._failures: deque[float] = deque()
        self._opened_at = 0.0
        self._trials = 0

    @property
    def retry_at(self) -> float | None:
        """When an open circuit lets a trial call through (on the ``now`` clock, time.monotonic)."""
        return self._opened_at + self._options.cool_down if self.state == "open" else None

    def acquire(self) -> Permit:
        """A permit for one call; raises UNAVAILABLE (data.circuit) when the circuit refuses it."""
        if self.state == "open":
            retry_after = self._opened_at + self._options.cool_down - self._now()
            if retry_after > 0:
                raise CorreioError(
                    "UNAVAILABLE",
                    f"the circuit for {self.key} is open after repeated failures; retry after {round(retry_after * 1000)}ms",
                    data={"circuit": "open", "key": self.key, "retryAfter": round(retry_after * 1000)},
                )
            self.state = "half-open"
        if self.state == "half-open":
            if self._trials >= self._options.half_open_calls:
                raise CorreioError(
                    "UNAVAILABLE",
                    f"the circuit for {self.key} is half-open and already testing the callee; retry shortly",
                    data={"circuit": "half-open", "key": self.key, "retryAfter": 0},
                )
            self._trials += 1
            return Permit(trial=True)
        return Permit(trial=False)

    def record(self, permit: Permit, failed: bool) -> None:
        now = self._now()
        if permit.trial:
            if self.state != "half-open":
                return
            self._trials = max(0, self._trials - 1)
            if failed:
                self._open(now)
            else:
                self._failures.clear()
                self.state = "closed"
            return
        if not failed or self.state != "closed":
            return
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self._options.window:
            self._failures.popleft()
        if len(self._failures) >= self._options.threshold:
            self._open(now)

    def release(self, permit: Permit) -> None:
        """Gives back a permit whose call says nothing about the callee (the caller gave up)."""
        if permit.trial and self.state == "half-open":
            self._trials = max(0, self._trials - 1)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._trials = 0
        self._failures.clear()
        self.state = "open"


class CircuitBreaker:
    """One circuit per action, created on first use (bounded: the oldest is forgotten past ``max_circuits``)."""

    def __init__(self, options: CircuitBreakerOptions, *, max_circuits: int = 10_000) -> None:
        self.options = options
        self._circuits: dict[str, Circuit] = {}
        self._max = max_circuits

    def circuit(self, key: str) -> Circuit:
        circuit = self._circuits.get(key)
        if circuit is None:
            if len(self._circuits) >= self._max:
                del self._circuits[next(iter(self._circuits))]
            circuit = self._circuits[key] = Circuit(key, self.options)
        return circuit

    def states(self) -> dict[str, CircuitState]:
        return {key: circuit.state for key, circuit in self._circuits.items()}
