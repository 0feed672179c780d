"""The Lamport clock every envelope carries in ``lc`` (ENCODING.md section 4)."""

from __future__ import annotations

import threading

from .codec import MAX_SAFE_INTEGER


class LamportClock:
    """Ticks once per send; on receive jumps past what the sender had seen. Thread-safe."""

    def __init__(self, start: int = 0) -> None:
        if not 0 <= start <= MAX_SAFE_INTEGER:
            raise ValueError(f"a Lamport clock starts in 0 .. 2^53-1, got {start}")
        self._value = start
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def tick(self) -> int:
        """Advances the clock for one send and returns the value to write into ``lc``."""
        with self._lock:
            self._value = min(self._value + 1, MAX_SAFE_INTEGER)
            return self._value

    def observe(self, remote: int) -> None:
        """Lamport's receive rule: ``lc = max(lc, remote) + 1`` (FRAMES.md, a minimal client)."""
        with self._lock:
            if isinstance(remote, int) and remote >= self._value:
                self._value = min(remote + 1, MAX_SAFE_INTEGER)
