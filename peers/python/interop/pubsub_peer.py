"""Pub/sub through the proxy from the command line, for the cross-language tests (tools/interop).

    python -m interop.pubsub_peer subscribe --endpoint tcp://127.0.0.1:5571 --topic chan/general/ --count 6
    python -m interop.pubsub_peer publish --endpoint tcp://127.0.0.1:5570 --topic chan/general/ --batches 2 --size 3

``subscribe`` connects a SUB to a PUB endpoint or a proxy's XPUB port, subscribes to the prefix
``--topic``, prints ``{"ready": true}``, then one line per delivery: ``{"topic", "publisher",
"seq", "type", "body"}`` for a publication, ``{"gap": {"topic", "publisher", "first", "last",
"restarted"}}`` for a gap. It exits 0 after ``--count`` publications. Ready means connected and
subscribed on this side: the subscription reaches the publishers a moment later.

``publish`` connects a PUB (to a proxy's XSUB port), prints ``{"ready": true}``, waits for a line ``go`` on stdin, then
publishes ``--batches`` messages of ``--size`` chat.publication bodies each, one batch per message
(texts ``b<i>-<j>``: batch i, body j, both from 0), prints ``{"published": <bodies>}``, and exits
0 once they are sent. It exits 1 if stdin ends before ``go``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
from typing import Any

import zmq
import zmq.asyncio

from correio import Gap, Publisher, Stamp, Subscriber, now_ms

from .lines import read_lines, write

#: How long (ms) a finished publisher waits for its queued messages to leave.
LINGER_MS = 5000


async def subscribe(args: argparse.Namespace) -> int:
    context = zmq.asyncio.Context()
    try:
        async with Subscriber(args.endpoint, [args.topic], context=context) as subscriber:
            write({"ready": True})
            received = 0
            while received < args.count:
                delivery = await subscriber.receive()
                if isinstance(delivery, Gap):
                    write({"gap": {"topic": delivery.topic, "publisher": delivery.publisher, "first": delivery.first,
                                   "last": delivery.last, "restarted": delivery.restarted}})
                    continue
                envelope = delivery.envelope
                write({"topic": delivery.topic, "publisher": delivery.publisher, "seq": delivery.seq,
                       "type": envelope["type"], "body": envelope["body"]})
                received += 1
    finally:
        context.destroy(linger=0)
    return 0


def publication(sender: str, channel: str, op_seq: int, text: str) -> dict[str, Any]:
    """A valid chat.publication body, as if ``sender`` were its origin server."""
    now = now_ms()
    return {"op": {"origin": sender, "seq": op_seq}, "channel": channel, "user": "pubsub-peer", "text": text,
            "lc": op_seq, "hlc": [now, op_seq], "ts": now}


async def publish(args: argparse.Namespace) -> int:
    context = zmq.asyncio.Context()
    # Unbounded send queue: a PUB silently drops what exceeds its high-water mark, and a test
    # that publishes a burst wants every message to reach the proxy.
    context.setsockopt(zmq.SNDHWM, 0)
    publisher = Publisher(args.endpoint, stamp=Stamp(args.id), context=context)
    # Connecting is asynchronous and a PUB drops what it sends before the subscriptions reach it:
    # a driver waits a moment after this line before it sends go.
    write({"ready": True})
    try:
        async for line in read_lines():
            if line.strip() == "go":
                break
        else:
            print("pubsub_peer publish: stdin ended before go", file=sys.stderr)
            return 1
        # The channel is only the body's field: the topic is whatever --topic says.
        parts = args.topic.split("/")
        channel = parts[1] if parts[0] == "chan" and len(parts) == 3 and parts[1] else "general"
        total = 0
        for i in range(args.batches):
            bodies = [publication(args.id, channel, total + j + 1, f"b{i}-{j}") for j in range(args.size)]
            await publisher.publish(args.topic, args.type, bodies)
            total += len(bodies)
        write({"published": total})
    finally:
        publisher.close(linger=LINGER_MS)
        context.term()  # returns once the queued messages are out (or LINGER_MS passed)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    sub = modes.add_parser("subscribe", help="print the publications (and gaps) received on a topic")
    sub.add_argument("--endpoint", required=True, help="a PUB endpoint or the proxy's XPUB endpoint, to connect to")
    sub.add_argument("--topic", required=True, help="the topic prefix to subscribe to, e.g. chan/general/")
    sub.add_argument("--count", type=int, required=True, help="exit 0 after this many publications")
    pub = modes.add_parser("publish", help="after a line go on stdin, publish batches of chat.publication")
    pub.add_argument("--endpoint", required=True, help="the proxy's XSUB endpoint (or a bound SUB), to connect to")
    pub.add_argument("--topic", required=True, help="the topic to publish on, e.g. chan/general/")
    pub.add_argument("--batches", type=int, default=1, help="how many messages to publish")
    pub.add_argument("--size", type=int, default=1, help="bodies per message, 1-1000")
    pub.add_argument("--type", default="chat.publication", choices=["chat.publication"], help="the event type of the bodies")
    pub.add_argument("--id", default=f"py-pub-{secrets.token_hex(3)}", help="the publisher id (header p, envelope from)")
    args = parser.parse_args(argv)
    if args.mode == "publish" and not 1 <= args.size <= 1000:
        parser.error("--size must be 1-1000")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(subscribe(args) if args.mode == "subscribe" else publish(args)))


if __name__ == "__main__":
    main()
