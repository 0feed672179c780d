"""MDP/0.2 frames (FRAMES.md section 1): building and parsing client and worker commands, in the
classic framing of RFC 18 or the packed one of revision 1.10 (FRAMES.md section 1.12), where the
header, the command and the service name or client address share one frame."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

Framing = Literal["classic", "packed"]

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


def default_framing() -> Framing:
    """The framing a client or worker starts with when given none: ``CORREIO_MDP_FRAMING``
    (``classic`` or ``packed``), else ``classic``, which every RFC 18 broker knows."""
    value = os.environ.get("CORREIO_MDP_FRAMING", "")
    if value in ("", "classic"):
        return "classic"
    if value == "packed":
        return "packed"
    raise ValueError(f"CORREIO_MDP_FRAMING must be packed or classic, not {value!r}")


def _packed(header: bytes, command: bytes, tail: bytes = b"") -> bytes:
    """One packed header frame: the protocol header, the command byte, then a service or client address."""
    return header + command + tail


def _split_packed(frames: list[bytes], header: bytes) -> tuple[bytes, bytes] | None:
    """(command, tail) of a packed header frame, or None when frame 0 is not one of ``header``'s."""
    first = frames[0] if frames else b""
    if len(first) <= len(header) or first[: len(header)] != header:
        return None
    return first[len(header) : len(header) + 1], first[len(header) + 1 :]


def service_frame(service: str) -> bytes:
    """A broker service name as a frame: 1-255 bytes of printable ASCII."""
    frame = service.encode("ascii", "replace")
    if not _SERVICE.match(frame):
        raise ValueError(f"a broker service name is 1-255 printable ASCII bytes, got {service!r}")
    return frame


def client_request(service: str, body: bytes, framing: Framing = "classic") -> list[bytes]:
    """REQUEST: ``["MDPC02", 0x01, service, body]``, packed ``["MDPC02" 0x01 service, body]``."""
    if framing == "packed":
        return [_packed(CLIENT, REQUEST, service_frame(service)), body]
    return [CLIENT, REQUEST, service_frame(service), body]


@dataclass(frozen=True)
class ClientReply:
    """A PARTIAL or FINAL received by a client."""

    final: bool
    service: str
    body: list[bytes]


def parse_client_reply(frames: list[bytes]) -> ClientReply:
    packed = _split_packed(frames, CLIENT)
    if packed is not None:
        command, service = packed
        if len(frames) < 2 or command not in (PARTIAL, FINAL):
            raise FrameError(f"not an MDP/0.2 client reply: {len(frames)} frames, packed command {command!r}")
        if not _SERVICE.match(service):
            raise FrameError("malformed service name")
        return ClientReply(final=command == FINAL, service=service.decode("ascii"), body=frames[1:])
    if len(frames) < 4 or frames[0] != CLIENT or frames[1] not in (PARTIAL, FINAL):
        raise FrameError(f"not an MDP/0.2 client reply: {len(frames)} frames, header {frames[:2]!r}")
    if not _SERVICE.match(frames[2]):
        raise FrameError("malformed service frame")
    return ClientReply(final=frames[1] == FINAL, service=frames[2].decode("ascii"), body=frames[3:])


def worker_ready(service: str, framing: Framing = "classic") -> list[bytes]:
    if framing == "packed":
        return [_packed(WORKER, READY, service_frame(service))]
    return [WORKER, READY, service_frame(service)]


def worker_heartbeat(framing: Framing = "classic") -> list[bytes]:
    return [_packed(WORKER, HEARTBEAT)] if framing == "packed" else [WORKER, HEARTBEAT]


def worker_disconnect(framing: Framing = "classic") -> list[bytes]:
    return [_packed(WORKER, DISCONNECT)] if framing == "packed" else [WORKER, DISCONNECT]


def _worker_reply(command: bytes, client: bytes, body: bytes, framing: Framing) -> list[bytes]:
    if framing == "packed":
        return [_packed(WORKER, command, client), body]
    return [WORKER, command, client, b"", body]


def worker_final(client: bytes, body: bytes, framing: Framing = "classic") -> list[bytes]:
    return _worker_reply(WORKER_FINAL, client, body, framing)


def worker_partial(client: bytes, body: bytes, framing: Framing = "classic") -> list[bytes]:
    return _worker_reply(WORKER_PARTIAL, client, body, framing)


@dataclass(frozen=True)
class WorkerCommand:
    """A command received by a worker: REQUEST (with client and body), HEARTBEAT or DISCONNECT."""

    command: bytes
    client: bytes = b""
    body: tuple[bytes, ...] = ()
    #: The framing it came in: a worker answers a REQUEST in the same.
    framing: Framing = "classic"


def parse_worker_command(frames: list[bytes]) -> WorkerCommand:
    packed = _split_packed(frames, WORKER)
    if packed is not None:
        command, tail = packed
        if command == WORKER_REQUEST:
            # As in the classic framing, a missing body is answered with DECODE (FRAMES.md 1.4).
            if not 1 <= len(tail) <= 255:
                raise FrameError("malformed packed REQUEST: expected a client address of 1-255 bytes")
            return WorkerCommand(command, tail, tuple(frames[1:]), "packed")
        if command in (HEARTBEAT, DISCONNECT) and not tail and len(frames) == 1:
            return WorkerCommand(command, framing="packed")
        raise FrameError(f"unexpected packed worker command {command!r} with {len(frames)} frames")
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
