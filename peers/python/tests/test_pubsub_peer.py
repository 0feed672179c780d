"""interop/pubsub_peer.py as other processes run it: its publish and subscribe against each other."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from correio import Stamp, encode, encode_message, now_ms

from .miniproxy import MiniProxy

PEER_DIR = Path(__file__).resolve().parents[1]


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "interop.pubsub_peer", *args,
        cwd=PEER_DIR, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )


async def line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None
    text = await asyncio.wait_for(process.stdout.readline(), 10)
    assert text, "the peer ended its output early"
    return json.loads(text)


async def handshake(monitor: zmq.asyncio.Socket) -> None:
    """Waits for one peer to connect to the monitored socket."""
    while parse_monitor_message(await monitor.recv_multipart())["event"] != zmq.EVENT_HANDSHAKE_SUCCEEDED:
        pass


async def forwarded(proxy: MiniProxy, subscription: bytes) -> None:
    """Waits until the proxy has handed `subscription` to the publishers' side."""
    while subscription not in proxy.forwarded_subscriptions:
        await asyncio.sleep(0.01)


def test_help_describes_both_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "interop.pubsub_peer", "--help"], cwd=PEER_DIR, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0 and "subscribe" in done.stdout and "publish" in done.stdout


def test_publish_and_subscribe_through_the_proxy(context, run) -> None:
    batches, size = 3, 4

    async def scenario() -> None:
        async with MiniProxy(context) as proxy:
            # "go" is sent once the subscription has been handed to the publisher: both peers have
            # connected (the monitors say so) and the proxy has forwarded the subscription (an XSUB
            # passes its subscriptions to a publisher that connects later too).
            xpub_monitor = proxy.xpub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            xsub_monitor = proxy.xsub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            subscriber = await start("subscribe", "--endpoint", proxy.subscribers, "--topic", "chan/general/", "--count", str(batches * size))
            publisher = await start("publish", "--endpoint", proxy.publishers, "--topic", "chan/general/",
                                    "--batches", str(batches), "--size", str(size), "--type", "chat.publication", "--id", "py-peer-pub")
            try:
                assert await line(subscriber) == {"ready": True}
                assert await line(publisher) == {"ready": True}
                await asyncio.wait_for(asyncio.gather(handshake(xpub_monitor), handshake(xsub_monitor), forwarded(proxy, b"\x01chan/general/")), 10)
                assert publisher.stdin is not None
                publisher.stdin.write(b"go\n")
                await publisher.stdin.drain()
                assert await line(publisher) == {"published": batches * size}
                got = [await line(subscriber) for _ in range(batches * size)]
                assert await asyncio.wait_for(publisher.wait(), 10) == 0
                assert await asyncio.wait_for(subscriber.wait(), 10) == 0
            finally:
                for process in (publisher, subscriber):
                    if process.returncode is None:
                        process.kill()
                        await process.wait()
            assert [g["seq"] for g in got] == list(range(1, batches * size + 1))
            assert [g["body"]["text"] for g in got] == [f"b{i}-{j}" for i in range(batches) for j in range(size)]
            assert {(g["topic"], g["publisher"], g["type"]) for g in got} == {("chan/general/", "py-peer-pub", "chat.publication")}
            xpub_monitor.close(linger=0)
            xsub_monitor.close(linger=0)

    run(scenario())


def test_subscribe_prints_gaps(context, run) -> None:
    async def scenario() -> None:
        xpub = context.socket(zmq.XPUB)  # a bound PUB that shows when the subscription has arrived
        xpub.setsockopt(zmq.LINGER, 0)
        xpub.bind("tcp://127.0.0.1:*")
        subscriber = await start("subscribe", "--endpoint", xpub.getsockopt_string(zmq.LAST_ENDPOINT), "--topic", "chan/", "--count", "3")
        try:
            assert await line(subscriber) == {"ready": True}
            assert await asyncio.wait_for(xpub.recv(), 10) == b"\x01chan/"
            stamp = Stamp("srv-9")

            def bodies(s: int, n: int) -> bytes:
                return b"".join(encode_message(stamp.envelope("chat.publication", {
                    "op": {"origin": "srv-9", "seq": seq}, "channel": "x", "user": "u", "text": f"t{seq}",
                    "lc": seq, "hlc": [now_ms(), 0], "ts": now_ms()})) for seq in range(s, s + n))

            await xpub.send_multipart([b"chan/x/", encode({"n": 2, "p": "srv-9", "s": 1}), bodies(1, 2)])
            await xpub.send_multipart([b"chan/x/", encode({"n": 1, "p": "srv-9", "s": 5}), bodies(5, 1)])
            got = [await line(subscriber) for _ in range(4)]
            assert await asyncio.wait_for(subscriber.wait(), 10) == 0
        finally:
            if subscriber.returncode is None:
                subscriber.kill()
                await subscriber.wait()
            xpub.close(linger=0)
        assert [g.get("seq") for g in got] == [1, 2, None, 5]
        assert got[2] == {"gap": {"topic": "chan/x/", "publisher": "srv-9", "first": 3, "last": 4, "restarted": False}}
        assert got[3]["body"]["text"] == "t5" and got[3]["type"] == "chat.publication"

    run(scenario())
