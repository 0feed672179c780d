"""Publisher -> proxy -> Subscriber: header, batching, gaps, restarts and malformed messages."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
import zmq
import zmq.asyncio

from correio import Gap, Limits, Publication, Publisher, Stamp, Subscriber, decode_sequence, encode, encode_message, now_ms
from correio.publisher import MAX_BATCH_BYTES

from .miniproxy import MiniProxy

TOPIC = b"chan/general/"


def publication(text: str, seq: int = 1) -> dict:
    return {"op": {"origin": "srv-1", "seq": seq}, "channel": "general", "user": "alice", "text": text, "lc": seq, "hlc": [now_ms(), 0], "ts": now_ms()}


def header(n: int, s: int, p: str = "srv-9") -> bytes:
    return encode({"n": n, "p": p, "s": s})


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


class RawPublisher:
    """A bare PUB socket through the proxy, to send any frames at all; numbers envelopes ``s<seq>``."""

    def __init__(self, context: zmq.asyncio.Context, proxy: MiniProxy) -> None:
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(proxy.publishers)
        self.stamp = Stamp("srv-9")

    def envelope(self, seq: int, **changes: object) -> dict:
        envelope = self.stamp.envelope("chat.publication", publication(f"s{seq}", seq))
        envelope.update(changes)
        return envelope

    def bodies(self, s: int, n: int) -> bytes:
        """A bodies frame of ``n`` valid envelopes numbered from ``s``."""
        return b"".join(encode_message(self.envelope(s + i)) for i in range(n))

    async def send(self, *frames: bytes) -> None:
        await self.socket.send_multipart([TOPIC, *frames])

    async def connect(self, subscriber: Subscriber) -> None:
        """This new PUB learns the subscription a moment after connecting: probe under another id."""
        for probe in range(1, 101):
            await self.send(header(1, probe, "raw-probe"), self.bodies(probe, 1))
            try:
                delivery = await asyncio.wait_for(subscriber.receive(), 0.1)
            except asyncio.TimeoutError:
                continue
            if delivery.publisher == "raw-probe":
                return
        raise AssertionError("the subscription never reached the raw publisher")

    def close(self) -> None:
        self.socket.close(linger=0)


async def receive_from(subscriber: Subscriber, count: int, publisher: str = "srv-9") -> list:
    """The next ``count`` deliveries of ``publisher``: a seq for a Publication, the Gap itself."""
    got: list = []
    while len(got) < count:
        delivery = await asyncio.wait_for(subscriber.receive(), 5)
        if delivery.publisher == publisher:
            got.append(delivery.seq if isinstance(delivery, Publication) else delivery)
    return got


def test_publications_arrive_in_order_and_batches_are_unpacked(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/general/"], context=context) as subscriber:
            publisher = Publisher(proxy.publishers, stamp=Stamp("srv-1"), context=context)
            await until_subscribed(publisher, subscriber, "chan/general/")
            first = await publisher.publish("chan/general/", "chat.publication", [publication("one")])
            await publisher.publish("chan/general/", "chat.publication", [publication("two"), publication("three")])
            await publisher.publish("chan/generalist/", "chat.publication", [publication("other topic")])
            await publisher.publish("chan/general/", "chat.publication", [publication("four")])
            await publisher.publish("chan/general/", "chat.publication", [publication(f"big-{i}") for i in range(1000)])
            got: list[Publication] = []
            while len(got) < 1004:
                delivery = await asyncio.wait_for(subscriber.receive(), 5)
                if isinstance(delivery, Publication) and delivery.envelope["body"]["text"] != "probe":
                    got.append(delivery)
            assert [d.envelope["body"]["text"] for d in got] == ["one", "two", "three", "four"] + [f"big-{i}" for i in range(1000)]
            assert [d.seq for d in got] == list(range(first, first + 1004))
            assert {d.topic for d in got} == {"chan/general/"} and {d.publisher for d in got} == {"srv-1"}
            assert subscriber.dropped == 0 and subscriber.dropped_bodies == 0
            publisher.close()

    run(scenario())


def test_publisher_sends_three_frames_with_the_envelopes_back_to_back(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy:
            sub = context.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, TOPIC)
            sub.connect(proxy.subscribers)
            publisher = Publisher(proxy.publishers, stamp=Stamp("srv-1"), context=context)
            for _ in range(100):  # probe until the subscription has reached the publisher
                await publisher.publish("chan/general/", "chat.publication", [publication("probe")])
                if await sub.poll(100):
                    break
            while await sub.poll(100):
                await sub.recv_multipart()
            seq = await publisher.publish("chan/general/", "chat.publication", [publication("a"), publication("b"), publication("c")])
            frames = await asyncio.wait_for(sub.recv_multipart(), 5)
            assert len(frames) == 3 and frames[0] == TOPIC
            assert frames[1] == header(3, seq, "srv-1")
            envelopes = decode_sequence(frames[2], 3)
            assert [e["body"]["text"] for e in envelopes] == ["a", "b", "c"]
            assert frames[2] == b"".join(encode_message(e) for e in envelopes)
            publisher.close()
            sub.close(linger=0)

    run(scenario())


def test_publisher_refuses_a_batch_over_one_mebibyte_and_sends_nothing(context, run) -> None:
    async def scenario() -> None:
        publisher = Publisher("tcp://127.0.0.1:9", stamp=Stamp("srv-1"), context=context)  # never sends
        big = publication("x" * 4000)  # about 4.2 kB as an envelope
        with pytest.raises(ValueError, match="smaller batches"):
            await publisher.publish("chan/general/", "chat.publication", [big] * (MAX_BATCH_BYTES // 4000))
        # Nothing was numbered: the next message is still the topic's first.
        assert await publisher.publish("chan/general/", "chat.publication", [big] * 200) == 1
        publisher.close()

    run(scenario())


def test_gaps_and_restarts(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/"], context=context) as subscriber:
            raw = RawPublisher(context, proxy)
            await raw.connect(subscriber)

            async def send(s: int, n: int = 1) -> None:
                await raw.send(header(n, s), raw.bodies(s, n))

            await send(1)  # first message of srv-9
            await send(2)  # in order
            await send(5, n=2)  # lost 3..4
            await raw.send(header(2, 7), raw.bodies(7, 1))  # announces 2 envelopes, holds 1: dropped whole
            await raw.send(b"\xc1", raw.bodies(8, 1))  # header is not MessagePack: dropped whole
            await raw.send(header(1, 9), encode({}))  # a map, but no envelope: dropped alone
            await send(10)  # so 7..8 are a gap (9 was numbered, and is no loss)
            await send(1, n=5)  # the publisher restarted: reset, no gap
            await send(3)  # restarted again and lost 1..2
            expected = [1, 2, Gap("chan/general/", "srv-9", 3, 4), 5, 6, Gap("chan/general/", "srv-9", 7, 8), 10, 1, 2, 3, 4, 5, Gap("chan/general/", "srv-9", 1, 2, restarted=True), 3]
            assert await receive_from(subscriber, len(expected)) == expected
            assert (subscriber.dropped, subscriber.dropped_bodies) == (2, 1)
            raw.close()

    run(scenario())


def _proto_value(raw: RawPublisher, seq: int) -> bytes:
    # The encoder refuses __proto__, so this one is packed by hand.
    envelope = raw.envelope(seq)
    envelope["body"]["__proto__"] = 1
    return msgpack.packb(envelope, use_bin_type=True)


#: Malformed messages, each as a function of (raw publisher, first seq) -> frames after the topic.
MALFORMED = {
    "4 frames (one per body, the old format)": lambda raw, s: [header(2, s), raw.bodies(s, 1), raw.bodies(s + 1, 1)],
    "2 frames": lambda raw, s: [header(1, s)],
    "1 frame": lambda raw, s: [],
    "n-1 values": lambda raw, s: [header(3, s), raw.bodies(s, 2)],
    "n+1 values": lambda raw, s: [header(2, s), raw.bodies(s, 3)],
    "trailing garbage byte": lambda raw, s: [header(2, s), raw.bodies(s, 2) + b"\xc1"],
    "truncated last value": lambda raw, s: [header(2, s), raw.bodies(s, 2)[:-1]],
    "empty bodies frame": lambda raw, s: [header(1, s), b""],
    "frame over max_bytes": lambda raw, s: [header(20, s), raw.bodies(s, 20)],
    "__proto__ in one value": lambda raw, s: [header(3, s), raw.bodies(s, 1) + _proto_value(raw, s + 1) + raw.bodies(s + 2, 1)],
    "a float in one value": lambda raw, s: [header(2, s), raw.bodies(s, 1) + b"\xcb" + bytes(8)],
}


def test_malformed_messages_are_dropped_whole(context, run) -> None:
    # Each envelope is about 180 bytes, well under the limit; 20 of them are not.
    limits = Limits(max_bytes=2048)

    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/"], limits=limits, context=context) as subscriber:
            raw = RawPublisher(context, proxy)
            await raw.connect(subscriber)
            await raw.send(header(1, 1), raw.bodies(1, 1))
            s = 2
            for build in MALFORMED.values():
                await raw.send(*build(raw, s))
                s += 20  # past any seq a malformed message could claim
            await raw.send(header(2, s), raw.bodies(s, 2))
            # Nothing of the malformed messages is delivered: their numbers are one gap.
            assert await receive_from(subscriber, 4) == [1, Gap("chan/general/", "srv-9", 2, s - 1), s, s + 1]
            assert (subscriber.dropped, subscriber.dropped_bodies) == (len(MALFORMED), 0)
            raw.close()

    run(scenario())


def test_an_invalid_envelope_is_dropped_alone_and_its_neighbours_delivered(context, run) -> None:
    async def scenario() -> None:
        async with MiniProxy(context) as proxy, Subscriber(proxy.subscribers, ["chan/"], context=context) as subscriber:
            raw = RawPublisher(context, proxy)
            await raw.connect(subscriber)
            invalid_body = raw.envelope(2)
            del invalid_body["body"]["text"]
            frame = b"".join([
                raw.bodies(1, 1),
                encode(invalid_body),  # schema violation
                raw.bodies(3, 1),
                encode(raw.envelope(4, type="chat.nonsense")),  # unknown type
                encode(raw.envelope(5, v=2)),  # unsupported version
                encode(7),  # a value, but not a map
                raw.bodies(7, 1),
            ])
            await raw.send(header(7, 1), frame)
            await raw.send(header(1, 8), raw.bodies(8, 1))  # in order: 2, 4, 5 and 6 were no loss
            got: list[Publication] = []
            while len(got) < 4:
                delivery = await asyncio.wait_for(subscriber.receive(), 5)
                if delivery.publisher == "srv-9":
                    assert isinstance(delivery, Publication), f"unexpected {delivery}"
                    got.append(delivery)
            assert [(d.seq, d.envelope["body"]["text"]) for d in got] == [(1, "s1"), (3, "s3"), (7, "s7"), (8, "s8")]
            assert (subscriber.dropped, subscriber.dropped_bodies) == (0, 4)
            raw.close()

    run(scenario())
