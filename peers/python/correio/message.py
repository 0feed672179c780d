"""Envelope encoding and decoding with the checks of ENCODING.md section 3, in their order."""

from __future__ import annotations

from typing import Any, Mapping

from .codec import decode, encode
from .errors import CorreioError
from .generated.catalogue import PROTOCOL_VERSION
from .limits import DEFAULT_LIMITS, Limits
from .schemas import first_error, json_pointer, schema_set


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_message(envelope: Any) -> dict[str, Any]:
    """Checks a decoded value is a valid v1 envelope whose body matches its type's schema.

    Raises CorreioError VALIDATION, UNSUPPORTED_VERSION or UNKNOWN_TYPE, in the order of
    ENCODING.md section 3; VALIDATION carries ``data.path``, a JSON Pointer from the envelope root.
    """
    if not isinstance(envelope, dict) or not _is_int(envelope.get("v")):
        raise CorreioError("VALIDATION", "/v: a message is a map whose v is an integer", data={"path": "/v"})
    if envelope["v"] != PROTOCOL_VERSION:
        raise CorreioError("UNSUPPORTED_VERSION", f"protocol version {envelope['v']} is not supported; this peer speaks {PROTOCOL_VERSION}")
    schemas = schema_set()
    error = first_error(schemas.envelope, envelope)
    if error is not None:
        path = json_pointer(error)
        raise CorreioError("VALIDATION", f"{path or '/'}: {error.message}", data={"path": path})
    body_validator = schemas.bodies.get(envelope["type"])
    if body_validator is None:
        raise CorreioError("UNKNOWN_TYPE", f"unknown message type {envelope['type']!r}")
    error = first_error(body_validator, envelope["body"])
    if error is not None:
        path = json_pointer(error, "/body")
        raise CorreioError("VALIDATION", f"{path}: {error.message}", data={"path": path})
    return envelope


def decode_message(data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """Bytes to a validated envelope; raises CorreioError with the code of the first failed check."""
    return validate_message(decode(data, limits))


def encode_message(envelope: Mapping[str, Any]) -> bytes:
    """A validated envelope to its canonical bytes; raises CorreioError VALIDATION (or the like)."""
    return encode(validate_message(dict(envelope)))
