"""MDP/0.2 frames (FRAMES.md section 1): building and parsing client and worker commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

CLIENT = b"MDPC02"
WORKER = b"MDPW02"

# Client commands.
REQUEST = b"\x01"
PARTIAL = b"\x02"
FINAL = b"\x03"

# Worker commands.
READY = b"\x01"
WORKER_REQUEST = b"\x02"
WORKER_PARTIAL = b"\x03"
WORKER_FINAL = b"\x04"
HEARTBEAT = b"\x05"
DISCONNECT = b"\x06"

MMI_SERVICE = "mmi.service"

_SERVICE = re.compile(rb"[\x21-\x7e]{1,255}\Z")


class FrameError(ValueError):
    """A multipart message with the wrong number or shape of frames: dropped by the receiver."""


def service_frame(service: str) -> bytes:
    """A broker service name as a frame: 1-255 bytes of printable ASCII."""
    frame = service.encode("ascii", "replace")
    if not _SERVICE.match(frame):
        raise ValueError(f"a broker service name is 1-255 printable ASCII bytes, got {service!r}")
    return frame


def client_request(service: str, body: bytes) -> list[bytes]:
    """REQUEST: ``["MDPC02", 0x01, service, body]``."""
    return [CLIENT, REQUEST, service_frame(service), body]


@dataclass(frozen=True)
class ClientReply:
    """A PARTIAL or FINAL received by a client."""

    final: bool
    service: str
    body: list[bytes]


def parse_client_reply(frames: list[bytes]) -> ClientReply:
    if len(frames) < 4 or frames[0] != CLIENT or frames[1] not in (PARTIAL, FINAL):
        raise FrameError(f"not an MDP/0.2 client reply: {len(frames)} frames, header {frames[:2]!r}")
    if not _SERVICE.match(frames[2]):
        raise FrameError("malformed service frame")
    return ClientReply(final=frames[1] == FINAL, service=frames[2].decode("ascii"), body=frames[3:])


def worker_ready(service: str) -> list[bytes]:
    return [WORKER, READY, service_frame(service)]


def worker_heartbeat() -> list[bytes]:
    return [WORKER, HEARTBEAT]


def worker_disconnect() -> list[bytes]:
    return [WORKER, DISCONNECT]


def worker_final(client: bytes, body: bytes) -> list[bytes]:
    return [WORKER, WORKER_FINAL, client, b"", body]


def worker_partial(client: bytes, body: bytes) -> list[bytes]:
    return [WORKER, WORKER_PARTIAL, client, b"", body]


@dataclass(frozen=True)
class WorkerCommand:
    """A command received by a worker: REQUEST (with client and body), HEARTBEAT or DISCONNECT."""

    command: bytes
    client: bytes = b""
    body: tuple[bytes, ...] = ()


def parse_worker_command(frames: list[bytes]) -> WorkerCommand:
    if len(frames) < 2 or frames[0] != WORKER:
        raise FrameError(f"not an MDP/0.2 worker command: {len(frames)} frames")
    command = frames[1]
    if command == WORKER_REQUEST:
        # The body may be missing or split: the worker answers that with DECODE (FRAMES.md 1.4).
        if len(frames) < 4 or not 1 <= len(frames[2]) <= 255 or frames[3] != b"":
            raise FrameError("malformed REQUEST: expected client, empty delimiter, body")
        return WorkerCommand(command, frames[2], tuple(frames[4:]))
    if command in (HEARTBEAT, DISCONNECT) and len(frames) == 2:
        return WorkerCommand(command)
    raise FrameError(f"unexpected worker command {command!r} with {len(frames)} frames")
