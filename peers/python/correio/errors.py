"""Typed Correio errors: every failure carries a protocol error code (ENCODING.md section 5)."""

from __future__ import annotations

from typing import Any, Mapping

from .generated.catalogue import ERROR_CODES

#: Codes whose requests may succeed when sent again with the same id.
RETRYABLE_CODES = frozenset({"TIMEOUT", "UNAVAILABLE", "OVERLOADED", "INTERNAL"})

#: error.json bounds the message to 1000 code points.
_MAX_WIRE_MESSAGE = 1000


class CorreioError(Exception):
    """An error with a protocol code; travels as the body of an ``error`` envelope."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = code in RETRYABLE_CODES if retryable is None else retryable
        self.data = dict(data) if data is not None else None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_wire(self) -> dict[str, Any]:
        """The body of an ``error`` message for this error."""
        # A lone surrogate has no UTF-8 form: replace it so the encoder accepts the message.
        message = self.message.encode("utf-8", "replace").decode("utf-8")[:_MAX_WIRE_MESSAGE]
        wire: dict[str, Any] = {"code": self.code, "message": message, "retryable": self.retryable}
        if self.data is not None:
            wire["data"] = self.data
        return wire

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> "CorreioError":
        """Rebuilds the error a peer sent as the body of an ``error`` message."""
        return cls(body["code"], body["message"], retryable=body["retryable"], data=body.get("data"))

    @classmethod
    def wrap(cls, error: BaseException) -> "CorreioError":
        """Anything raised while serving becomes INTERNAL unless it already has a code."""
        return error if isinstance(error, CorreioError) else cls("INTERNAL", str(error) or type(error).__name__)
