"""Building envelopes (ENCODING.md section 3): request ids, sender, Lamport clock and time."""

from __future__ import annotations

import base64
import re
import secrets
import time
from typing import Any, Callable, Mapping

from .clock import LamportClock, LamportExhausted
from .errors import CorreioError
from .generated.catalogue import PROTOCOL_VERSION

_NODE_ID = re.compile(r"[\x21-\x7e]{1,128}\Z")
_REQUEST_ID = re.compile(r"[0-9A-Za-z_-]{1,64}\Z")

#: The id of an error reply to a request whose own id could not be read (FRAMES.md 1.4).
UNKNOWN_REQUEST_ID = "0"


def new_request_id() -> str:
    """22 characters of URL-safe base64 of 16 random bytes, as Correio's peers use."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def new_node_id(prefix: str) -> str:
    """A node id for a process that was given none: ``<prefix>-<random>``."""
    return f"{prefix}-{secrets.token_hex(4)}"


def is_request_id(value: Any) -> bool:
    return isinstance(value, str) and _REQUEST_ID.match(value) is not None


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class Stamp:
    """Stamps outgoing envelopes with ``from``, a Lamport tick and the time; merges incoming ones."""

    def __init__(self, sender: str, clock: LamportClock | None = None, now: Callable[[], int] = now_ms) -> None:
        if not _NODE_ID.match(sender):
            raise ValueError(f"a sender id is 1-128 printable ASCII characters, got {sender!r}")
        self.sender = sender
        self.clock = clock if clock is not None else LamportClock()
        self._now = now

    def envelope(self, message_type: str, body: Mapping[str, Any], request_id: str | None = None, *, auth: str | None = None) -> dict[str, Any]:
        """A new envelope; a fresh id unless ``request_id`` is given (replies and retries).

        ``auth`` (protocol revision 1.1) is the access token of the user a request acts for.
        """
        envelope = {
            "v": PROTOCOL_VERSION,
            "type": message_type,
            "id": request_id if request_id is not None else new_request_id(),
            "from": self.sender,
            "lc": self.clock.tick(),
            "ts": self._now(),
            "body": dict(body),
        }
        if auth is not None:
            envelope["auth"] = auth
        return envelope

    def error(self, request_id: str, error: CorreioError) -> dict[str, Any]:
        """An ``error`` envelope answering ``request_id``; at 2^53 - 1 stamped with the clock's last value, never raising."""
        try:
            return self.envelope("error", error.to_wire(), request_id)
        except LamportExhausted:
            envelope = {"v": PROTOCOL_VERSION, "type": "error", "id": request_id, "from": self.sender, "lc": self.clock.value, "ts": self._now()}
            return envelope | {"body": error.to_wire()}

    def observe(self, envelope: Mapping[str, Any], *, request: bool = False) -> bool:
        """Merges the clock of a received, valid envelope, within the bounds (ENCODING.md section 4.1);
        True when its ``lc`` lay beyond them and was clamped. A request is served either way."""
        return self.clock.observe(envelope["lc"], request=request)
