"""Publisher -> proxy -> Subscriber: header, batching, gaps, restarts and malformed messages."""

from __future__ import annotations

import asyncio

import zmq

from correio import Gap, Publication, Publisher, Stamp, Subscriber, encode, encode_message, now_ms

from .miniproxy import MiniProxy


def publication(text: str, seq: int = 1) -> dict:
    return {"op": {"origin": "srv-1", "seq": seq}, "channel": "general", "user": "alice", "text": text, "lc": seq, "hlc": [now_ms(), 0], "ts": now_ms()}


async def until_subscribed(publisher: Publisher, subscriber: Subscriber, topic: str) -> None:
    """Publishes probes until one arrives: a subscription takes a moment to reach the publisher."""
    for _ in range(100):
        await publisher.publish(topic, "chat.publication", [publication("probe")])
        try:
            delivery = await asyncio.wait_for(subscriber.receive(), 0.1)
        except asyncio.TimeoutError:
            continue
        if isinstance(delivery, Publication):
            return
    raise AssertionError("the subscription never reached the publisher")


def test_publications_arrive_in_order_and_batches_are_unpacked(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/general/"], context=context) as subscriber:
            publisher = Publisher(proxy.publishers, stamp=Stamp("srv-1"), context=context)
            await until_subscribed(publisher, subscriber, "chan/general/")
            first = await publisher.publish("chan/general/", "chat.publication", [publication("one")])
            await publisher.publish("chan/general/", "chat.publication", [publication("two"), publication("three")])
            await publisher.publish("chan/generalist/", "chat.publication", [publication("other topic")])
            await publisher.publish("chan/general/", "chat.publication", [publication("four")])
            got: list[Publication] = []
            while len(got) < 4:
                delivery = await asyncio.wait_for(subscriber.receive(), 5)
                if isinstance(delivery, Publication) and delivery.envelope["body"]["text"] != "probe":
                    got.append(delivery)
            assert [d.envelope["body"]["text"] for d in got] == ["one", "two", "three", "four"]
            assert [d.seq for d in got] == [first, first + 1, first + 2, first + 3]
            assert {d.topic for d in got} == {"chan/general/"} and {d.publisher for d in got} == {"srv-1"}
            publisher.close()

    run(scenario())


def test_gaps_restarts_and_malformed_messages(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/"], context=context) as subscriber:
            helper = Publisher(proxy.publishers, stamp=Stamp("probe"), context=context)
            await until_subscribed(helper, subscriber, "chan/probe/")
            raw = context.socket(zmq.PUB)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(proxy.publishers)
            stamp = Stamp("srv-9")

            async def send(seq: int, n: int = 1, header: bytes | None = None, bodies: list[bytes] | None = None, publisher: str = "srv-9") -> None:
                frames = bodies if bodies is not None else [encode_message(stamp.envelope("chat.publication", publication(f"s{seq + i}", seq + i))) for i in range(n)]
                await raw.send_multipart([b"chan/general/", header if header is not None else encode({"n": n, "p": publisher, "s": seq}), *frames])

            # This new PUB learns the subscription a moment after connecting: probe under another id.
            for probe in range(1, 101):
                await send(probe, publisher="raw-probe")
                try:
                    delivery = await asyncio.wait_for(subscriber.receive(), 0.1)
                    if delivery.publisher == "raw-probe":
                        break
                except asyncio.TimeoutError:
                    continue
            await send(1)  # first message of srv-9
            await send(2)  # in order
            await send(5, n=2)  # lost 3..4
            await send(7, header=encode({"n": 2, "p": "srv-9", "s": 7}))  # announces 2 bodies, carries 1: dropped
            await send(8, header=b"\xc1")  # header is not MessagePack: dropped
            await send(9, bodies=[b"\x80"])  # the body is no envelope: dropped whole
            await send(10)  # so 7..9 are a gap
            await send(1, n=5)  # the publisher restarted: reset, no gap
            await send(3)  # restarted again and lost 1..2
            expected = [1, 2, Gap("chan/general/", "srv-9", 3, 4), 5, 6, Gap("chan/general/", "srv-9", 7, 9), 10, 1, 2, 3, 4, 5, Gap("chan/general/", "srv-9", 1, 2, restarted=True), 3]
            got: list = []
            while len(got) < len(expected):
                delivery = await asyncio.wait_for(subscriber.receive(), 5)
                if delivery.publisher == "srv-9":
                    got.append(delivery.seq if isinstance(delivery, Publication) else delivery)
            assert got == expected
            assert subscriber.dropped == 3
            raw.close(linger=0)
            helper.close()

    run(scenario())
