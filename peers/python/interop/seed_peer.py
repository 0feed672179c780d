"""The simplest Correio peers: a plain pyzmq REQ client and a plain REP server, msgpack bodies, no MDP.

They use the seed-compatible queue of the broker (FRAMES.md section 2): REQ clients connect to its
frontend ROUTER, REP servers to its backend DEALER, and the application sees exactly one frame,
the envelope, on both sides. Only pyzmq and msgpack are used, as FRAMES.md section 2 shows, to
prove that nothing more is needed; for the tests of tools/interop.

    python -m interop.seed_peer req --endpoint tcp://127.0.0.1:5559 --user ana --count 3
    python -m interop.seed_peer rep --endpoint tcp://127.0.0.1:5560 --id py-rep-1

``req`` sends ``count`` chat.login.request, then one chat.history.request for a channel that does
not exist, and prints one line per reply: ``{"reply": <envelope>, "lc": <clock after>}``; a reply
that does not come is retried once on a new socket with the same id (lazy pirate), then reported
as ``{"timeout": <id>}``. ``rep`` prints ``{"ready": true}``, then serves until stdin ends:
chat.login.request gets a chat.login.reply, any other request an ``error`` envelope (NOT_FOUND for
chat.history.request, BAD_REQUEST otherwise, DECODE for bytes it cannot read); it prints
``{"served": <type>, "id", "from", "lc"}`` for each request.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
import threading
import time
from typing import Any

import msgpack
import zmq

from .lines import write

POLL_MS = 5000


def canon(value: Any) -> Any:
    """Sorts map keys by their UTF-8 bytes at every depth: with msgpack's shortest integers, canonical bytes."""
    if isinstance(value, dict):
        return {key: canon(value[key]) for key in sorted(value, key=lambda key: key.encode("utf-8"))}
    if isinstance(value, list):
        return [canon(item) for item in value]
    return value


def pack(envelope: dict[str, Any]) -> bytes:
    return msgpack.packb(canon(envelope), use_bin_type=True)


def unpack(frame: bytes) -> Any:
    return msgpack.unpackb(frame, raw=False, strict_map_key=True)


def new_id() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode("ascii")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def envelope(message_type: str, request_id: str, sender: str, lc: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "type": message_type, "id": request_id, "from": sender, "lc": lc, "ts": now_ms(), "body": body}


def run_req(args: argparse.Namespace) -> None:
    context = zmq.Context()
    sender = f"py-req-{secrets.token_hex(3)}"
    lc = 0
    requests = [("chat.login.request", {"user": args.user})] * args.count + [("chat.history.request", {"channel": "nowhere"})]
    socket = context.socket(zmq.REQ)
    socket.connect(args.endpoint)
    for message_type, body in requests:
        request_id = new_id()
        for attempt in range(2):
            lc += 1
            socket.send(pack(envelope(message_type, request_id, sender, lc, body)))
            if socket.poll(POLL_MS):
                reply = unpack(socket.recv())
                lc = max(lc, reply["lc"]) + 1  # Lamport merge on receive
                write({"reply": reply, "lc": lc})
                break
            socket.close(linger=0)  # lazy pirate: a REQ socket that lost its reply is stuck; new socket, same id
            socket = context.socket(zmq.REQ)
            socket.connect(args.endpoint)
        else:
            write({"timeout": request_id})
    socket.close(linger=0)
    context.term()


def answer(request: dict[str, Any], sender: str, lc: int) -> dict[str, Any]:
    body = request["body"]
    if request["type"] == "chat.login.request":
        now = now_ms()
        return envelope("chat.login.reply", request["id"], sender, lc, {"user": body["user"], "first_seen": now, "last_seen": now, "created": False})
    if request["type"] == "chat.history.request":
        error = {"code": "NOT_FOUND", "message": f"there is no channel {body.get('channel')}", "retryable": False}
    else:
        error = {"code": "BAD_REQUEST", "message": f"this server does not serve {request['type']}", "retryable": False}
    return envelope("error", request["id"], sender, lc, error)


def run_rep(args: argparse.Namespace) -> None:
    context = zmq.Context()
    socket = context.socket(zmq.REP)
    socket.connect(args.endpoint)
    stop = threading.Event()
    # The end of stdin (the driving process closed it, or died) stops the server.
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    lc = 0
    write({"ready": True, "from": args.id})
    while not stop.is_set():
        if not socket.poll(100):
            continue
        frame = socket.recv()
        try:
            request = unpack(frame)
            lc = max(lc, request["lc"]) + 1  # receive, then tick for the send
            reply = answer(request, args.id, lc)
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as error:
            lc += 1
            reply = envelope("error", "0", args.id, lc, {"code": "DECODE", "message": f"cannot read this request: {error}", "retryable": False})
            request = {"type": None, "id": "0", "from": None}
        socket.send(pack(reply))
        write({"served": request["type"], "id": request["id"], "from": request["from"], "lc": lc})
    socket.close(linger=0)
    context.term()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    req = modes.add_parser("req", help="a REQ client: connects to the queue's frontend")
    req.add_argument("--endpoint", required=True, help="the seed queue's frontend (ROUTER) endpoint")
    req.add_argument("--user", default="ana")
    req.add_argument("--count", type=int, default=3, help="how many logins to send")
    rep = modes.add_parser("rep", help="a REP server: connects to the queue's backend")
    rep.add_argument("--endpoint", required=True, help="the seed queue's backend (DEALER) endpoint")
    rep.add_argument("--id", default=f"py-rep-{secrets.token_hex(3)}", help="the server's node id, the from of its replies")
    args = parser.parse_args(argv)
    (run_req if args.mode == "req" else run_rep)(args)


if __name__ == "__main__":
    main()
