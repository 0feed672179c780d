"""Structured logs: stdlib ``logging`` with one JSON object per line on standard error.

The framework logs under ``correio.service`` and is quiet unless the application configures
logging; ``configure_logging("info")`` is the one-line way to see its JSON logs.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import IO, TYPE_CHECKING, Any, MutableMapping

if TYPE_CHECKING:
    _Adapter = logging.LoggerAdapter[logging.Logger]
else:
    _Adapter = logging.LoggerAdapter

#: LogRecord attributes that are not ``extra=`` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class ServiceLog(_Adapter):
    """A service's logger: every record carries ``service`` and ``instance`` besides its own ``extra``."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "msg", ...extra fields, "error"?}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created * 1000),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str | int = "warning", stream: IO[str] | None = None) -> logging.Handler:
    """Sends ``correio`` logs at ``level`` and above as JSON lines to ``stream`` (standard error)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("correio")
    logger.addHandler(handler)
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    return handler
