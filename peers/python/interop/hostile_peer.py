"""A hostile Python peer: schema-valid envelopes with extreme values (interop/hostile.py), sent to a broker.

    python -m interop.hostile_peer --broker tcp://127.0.0.1:5555 --servers srv-1,srv-2 --count 60 --seed 22

Hypothesis draws ``count`` envelopes of every message type (derandomized: the same ones for the
same seed), each is checked with the peer's own validator, and sent over MDP/0.2 on a plain
DEALER, exactly as drawn (any ``from``, ``lc``, ``ts`` and id), to ``chat``, ``ref`` or
``srv.<id>`` in turn. Each must be answered by a valid envelope; the program prints one line
``{"sent": n, "answered": n, "codes": {...}, "unanswered": [...], "malformed": n}`` and exits 0.
For the tests of tools/interop (tests/hostile-topology.test.ts).
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

import zmq
from hypothesis import HealthCheck, given, seed, settings

from correio.errors import CorreioError
from correio.message import decode_message, encode_message

from .hostile import SchemaStrategies, envelopes
from .lines import write

REPLY_MS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", required=True)
    parser.add_argument("--servers", default="srv-1")
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--seed", type=int, default=22)
    args = parser.parse_args()
    servers = [server for server in args.servers.split(",") if server]
    services = ["chat", "ref", *(f"srv.{server}" for server in servers)]
    strategies = SchemaStrategies(pools={"nodeId": [*servers, "ref"], "userName": ["mallory"], "channelName": ["mallet"]})

    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(args.broker)
    sent: list[dict[str, Any]] = []
    codes: Counter[str] = Counter()
    unanswered: list[str] = []
    malformed = 0

    @seed(args.seed)
    @settings(max_examples=args.count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(envelopes(strategies))
    def send(envelope: dict[str, Any]) -> None:
        nonlocal malformed
        service = services[len(sent) % len(services)]
        sent.append(envelope)
        socket.send_multipart([b"MDPC02", b"\x01", service.encode(), encode_message(envelope)])
        while True:  # replies to earlier, timed-out requests are skipped by id
            if not socket.poll(REPLY_MS):
                unanswered.append(f"{envelope['type']} -> {service} lc {envelope['lc']}")
                return
            frames = socket.recv_multipart()
            try:
                reply = decode_message(frames[3])
            except (CorreioError, IndexError):
                malformed += 1
                continue
            if reply["id"] == envelope["id"]:
                codes[reply["body"]["code"] if reply["type"] == "error" else "ok"] += 1
                return

    try:
        send()
    finally:
        socket.close()
        context.term()
    write({"sent": len(sent), "answered": sum(codes.values()), "codes": dict(codes), "unanswered": unanswered, "malformed": malformed})


if __name__ == "__main__":
    main()
