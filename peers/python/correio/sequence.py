"""Sequence-gap detection for pub/sub (FRAMES.md section 3.4), independent of sockets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    """Bodies ``first .. last`` of ``publisher`` on ``topic`` were lost."""

    topic: str
    publisher: str
    first: int
    last: int
    #: True when the publisher restarted (its sequence went back).
    restarted: bool = False

    @property
    def count(self) -> int:
        return self.last - self.first + 1


#: The largest jump in ``s`` read as a gap (FRAMES.md section 3.4): a larger one is a forged or broken
#: header, re-anchored without a gap, so no counter takes its size.
MAX_SEQUENCE_GAP = 2**32


class SequenceTracker:
    """Keeps ``last[(publisher, topic)]`` and reports what each message header says was lost."""

    def __init__(self, max_gap: int = MAX_SEQUENCE_GAP) -> None:
        self._last: dict[tuple[str, str], int] = {}
        self._max_gap = max_gap
        #: Messages whose ``s`` jumped further than a gap can.
        self.implausible = 0

    def accept(self, topic: str, publisher: str, seq: int, count: int) -> Gap | None:
        """Records a message of ``count`` bodies starting at ``seq``; returns the gap before it, if any."""
        key = (publisher, topic)
        last = self._last.get(key)
        self._last[key] = seq + count - 1
        if last is None or seq == last + 1:
            return None
        if seq - last - 1 > self._max_gap:
            self.implausible += 1
            return None
        if seq > last + 1:
            return Gap(topic, publisher, last + 1, seq - 1)
        # seq <= last: the publisher restarted; s == 1 is a clean restart, 1 < s lost 1 .. s-1.
        return Gap(topic, publisher, 1, seq - 1, restarted=True) if seq > 1 else None

    def last(self, topic: str, publisher: str) -> int | None:
        return self._last.get((publisher, topic))
