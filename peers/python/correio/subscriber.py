"""A subscriber through the proxy's XPUB port (FRAMES.md section 3), for asyncio.

Messages are exactly ``[topic, header, bodies]``: the header ``{n, p, s}`` numbers the ``n``
envelopes that the bodies frame holds back to back, and a SequenceTracker per (publisher, topic)
turns numbering jumps into Gap items, yielded in order before the publications that follow them.

A malformed message (not 3 frames, a bad header, a bodies frame that is not exactly ``n``
MessagePack values or is over ``max_bytes``) is dropped whole and counted in ``dropped``: its
numbering cannot be trusted. A value that decodes but is no valid envelope is dropped alone and
counted in ``dropped_bodies``; the others are delivered, and its number is no gap (section 3.5).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterable, Union

import zmq
import zmq.asyncio

from .codec import MAX_SAFE_INTEGER, decode, decode_sequence
from .errors import CorreioError
from .limits import DEFAULT_LIMITS, Limits
from .message import validate_message
from .sequence import Gap, SequenceTracker

log = logging.getLogger(__name__)

_HEADER_KEYS = {"n", "p", "s"}


@dataclass(frozen=True)
class Publication:
    """One event envelope received on ``topic`` from ``publisher``, numbered ``seq``."""

    topic: str
    publisher: str
    seq: int
    envelope: dict[str, Any]


Delivery = Union[Publication, Gap]


def parse_header(frame: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[int, str, int]:
    """``(n, p, s)`` of a publication header; raises CorreioError when it breaks section 3.2."""
    header = decode(frame, limits)
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise CorreioError("VALIDATION", "a publication header is the map {n, p, s}")
    n, p, s = header["n"], header["p"], header["s"]
    valid = (
        isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 1000
        and isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_SAFE_INTEGER - (n - 1)
        and isinstance(p, str) and 1 <= len(p) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in p)
    )
    if not valid:
        raise CorreioError("VALIDATION", f"invalid publication header {header!r}")
    return n, p, s


class Subscriber:
    """``async for delivery in subscriber``: Publication and Gap items, in arrival order."""

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = (),
        *,
        limits: Limits = DEFAULT_LIMITS,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.limits = limits
        self.tracker = SequenceTracker()
        #: Malformed messages, dropped whole.
        self.dropped = 0
        #: Invalid envelopes in otherwise well-formed messages, dropped one by one.
        self.dropped_bodies = 0
        context = context if context is not None else zmq.asyncio.Context.instance()
        self._socket = context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(endpoint)
        self._pending: deque[Delivery] = deque()  # one message may hold 1000 publications
        for name in topics:
            self.subscribe(name)

    def subscribe(self, topic: str) -> None:
        """Receives every topic that starts with ``topic`` (``chan/`` receives all channels)."""
        self._socket.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))

    def unsubscribe(self, topic: str) -> None:
        self._socket.setsockopt(zmq.UNSUBSCRIBE, topic.encode("utf-8"))

    def close(self) -> None:
        self._socket.close(linger=0)

    async def __aenter__(self) -> "Subscriber":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Delivery]:
        return self

    async def __anext__(self) -> Delivery:
        return await self.receive()

    async def receive(self) -> Delivery:
        """The next Publication or Gap."""
        while not self._pending:
            self._pending.extend(self._unpack(await self._socket.recv_multipart()))
        return self._pending.popleft()

    def _unpack(self, frames: list[bytes]) -> list[Delivery]:
        try:
            if len(frames) != 3:
                raise CorreioError("DECODE", f"a publication has exactly 3 frames, got {len(frames)}")
            topic = frames[0].decode("utf-8")
            n, publisher, seq = parse_header(frames[1], self.limits)
            values = decode_sequence(frames[2], n, self.limits)
        except (CorreioError, UnicodeDecodeError) as error:
            self.dropped += 1
            log.warning("dropping a malformed publication: %s", error)
            return []
        deliveries: list[Delivery] = []
        gap = self.tracker.accept(topic, publisher, seq, n)
        if gap is not None:
            deliveries.append(gap)
        for index, value in enumerate(values):
            try:
                envelope = validate_message(value)
            except CorreioError as error:
                self.dropped_bodies += 1
                log.warning("dropping publication %d from %s on %s: %s", seq + index, publisher, topic, error)
                continue
            deliveries.append(Publication(topic, publisher, seq + index, envelope))
        return deliveries
