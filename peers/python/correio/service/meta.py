"""Call metadata the framework itself sends, under the ``correio.`` prefix; handlers never see it."""

from __future__ import annotations

from typing import Mapping

FRAMEWORK_PREFIX = "correio."

#: The caller's per-attempt timeout in ms, as a string: the callee's deadline.
TIMEOUT_META = "correio.timeout"


def application_meta(meta: Mapping[str, str] | None) -> dict[str, str]:
    """The meta without the framework's keys."""
    return {key: value for key, value in (meta or {}).items() if not key.startswith(FRAMEWORK_PREFIX)}


def caller_timeout(meta: Mapping[str, str] | None) -> float | None:
    """The caller's timeout in seconds, when ``correio.timeout`` holds a positive integer."""
    text = (meta or {}).get(TIMEOUT_META, "")
    if not text.isascii() or not text.isdigit() or len(text) > 16:
        return None
    ms = int(text)
    return ms / 1000 if ms > 0 else None
