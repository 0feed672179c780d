"""JSON lines on stdout (one object per line, flushed) and on stdin (read without blocking the loop)."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from typing import Any, AsyncIterator


def _jsonable(value: Any) -> Any:
    """MessagePack binary has no JSON form: it is written as base64 text."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line, default=_jsonable, ensure_ascii=False) + "\n")
    sys.stdout.flush()


async def read_lines() -> AsyncIterator[str]:
    """The lines of stdin until it ends (a pipe: the process driving this one)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        if line.strip():
            yield line.decode("utf-8")
