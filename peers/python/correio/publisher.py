"""A publisher to the proxy's XSUB port (FRAMES.md section 3): one sequence counter per topic."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import zmq
import zmq.asyncio

from .codec import encode
from .envelope import Stamp, new_node_id
from .message import encode_message

#: The largest bodies frame a publisher may send (FRAMES.md 3.5): the default ``max_bytes``, so
#: that every subscriber with default limits can read it.
MAX_BATCH_BYTES = 1024 * 1024


class Publisher:
    """Publishes event envelopes as ``[topic, {n, p, s}, bodies]``, the envelopes back to back in ``bodies``."""

    def __init__(self, endpoint: str, *, stamp: Stamp | None = None, context: zmq.asyncio.Context | None = None) -> None:
        self.stamp = stamp if stamp is not None else Stamp(new_node_id("py-pub"))
        context = context if context is not None else zmq.asyncio.Context.instance()
        self._socket = context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(endpoint)
        self._next: dict[str, int] = {}

    async def publish(self, topic: str, message_type: str, bodies: Sequence[Mapping[str, Any]]) -> int:
        """Publishes 1-1000 events of one type on ``topic`` as one message; returns the first seq.

        Raises ValueError, sending nothing, when the envelopes together exceed MAX_BATCH_BYTES:
        the caller chooses its batches and splits this one (each call sends exactly one message).
        """
        if not 1 <= len(bodies) <= 1000:
            raise ValueError("a message carries 1 to 1000 bodies")
        frame = b"".join(encode_message(self.stamp.envelope(message_type, body)) for body in bodies)
        if len(frame) > MAX_BATCH_BYTES:
            raise ValueError(
                f"{len(bodies)} envelopes take {len(frame)} bytes, over the {MAX_BATCH_BYTES}-byte limit of a "
                "bodies frame (FRAMES.md 3.5): publish them in smaller batches"
            )
        seq = self._next.get(topic, 1)
        self._next[topic] = seq + len(bodies)
        header = encode({"n": len(bodies), "p": self.stamp.sender, "s": seq})
        await self._socket.send_multipart([topic.encode("utf-8"), header, frame])
        return seq

    def close(self, linger: int = 0) -> None:
        """Closes the socket; ``linger`` (ms) lets messages still queued go out first."""
        self._socket.close(linger=linger)
