"""A publisher to the proxy's XSUB port (FRAMES.md section 3): one sequence counter per topic."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import zmq
import zmq.asyncio

from .codec import encode
from .envelope import Stamp, new_node_id
from .message import encode_message


class Publisher:
    """Publishes event envelopes as ``[topic, {n, p, s}, envelope...]``."""

    def __init__(self, endpoint: str, *, stamp: Stamp | None = None, context: zmq.asyncio.Context | None = None) -> None:
        self.stamp = stamp if stamp is not None else Stamp(new_node_id("py-pub"))
        context = context if context is not None else zmq.asyncio.Context.instance()
        self._socket = context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(endpoint)
        self._next: dict[str, int] = {}

    async def publish(self, topic: str, message_type: str, bodies: Sequence[Mapping[str, Any]]) -> int:
        """Publishes 1-1000 events of one type on ``topic`` as one message; returns the first seq."""
        if not 1 <= len(bodies) <= 1000:
            raise ValueError("a message carries 1 to 1000 bodies")
        frames = [encode_message(self.stamp.envelope(message_type, body)) for body in bodies]
        seq = self._next.get(topic, 1)
        self._next[topic] = seq + len(frames)
        header = encode({"n": len(frames), "p": self.stamp.sender, "s": seq})
        await self._socket.send_multipart([topic.encode("utf-8"), header, *frames])
        return seq

    def close(self) -> None:
        self._socket.close(linger=0)
