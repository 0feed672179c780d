"""The tokens a login or refresh reply carries (protocol revision 1.1), as a client keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .envelope import now_ms


@dataclass(frozen=True)
class Tokens:
    """An access token for the envelope's ``auth``, and the refresh token that renews it.

    The client never verifies them (only servers hold the keys); it trusts the reply's
    ``expires_at`` only to decide when to refresh.
    """

    access: str
    refresh: str
    #: When the access token expires, ms since the epoch.
    expires_at: int
    refresh_expires_at: int

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> "Tokens | None":
        """The tokens of a ``chat.login.reply`` or ``chat.refresh.reply``; None from a 1.0 server."""
        if "token" not in reply or "refresh_token" not in reply:
            return None
        return cls(reply["token"], reply["refresh_token"], reply["expires_at"], reply["refresh_expires_at"])

    def expires_within(self, seconds: float) -> bool:
        return now_ms() >= self.expires_at - seconds * 1000
