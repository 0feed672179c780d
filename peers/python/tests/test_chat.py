"""ChatClient end to end: a Python MdpWorker serving an in-memory chat behind MiniBroker and MiniProxy."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from correio import ChatClient, CorreioError, MdpWorker, Publication, Publisher, Stamp, channel_topic, now_ms, user_topic

from .minibroker import MiniBroker
from .miniproxy import MiniProxy


class InMemoryChat:
    """Just enough of the chat service to exercise the client; publishes its events."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.users: dict[str, int] = {}
        self.channels: dict[str, dict] = {}
        self.history: dict[str, list[dict]] = {}
        self.seq = itertools.count(1)

    def _op(self) -> tuple[dict, int, list[int]]:
        seq = next(self.seq)
        ts = now_ms()
        return {"origin": "py-chat", "seq": seq}, ts, [ts, 0]

    async def __call__(self, request: dict) -> dict:
        body = request["body"]
        kind = request["type"]
        if kind == "chat.login.request":
            created = body["user"] not in self.users
            first = self.users.setdefault(body["user"], now_ms())
            return {"user": body["user"], "first_seen": first, "last_seen": now_ms(), "created": created}
        if kind == "chat.users.request":
            return {"users": [{"user": u, "first_seen": t, "last_seen": t} for u, t in sorted(self.users.items())]}
        if kind == "chat.channel.create.request":
            created = body["channel"] not in self.channels
            record = self.channels.setdefault(body["channel"], {"channel": body["channel"], "created_by": body["user"], "created_at": now_ms()})
            self.history.setdefault(body["channel"], [])
            return {**record, "created": created}
        if kind == "chat.channels.request":
            return {"channels": [self.channels[name] for name in sorted(self.channels)]}
        if kind == "chat.publish.request":
            if body["channel"] not in self.channels:
                raise CorreioError("NOT_FOUND", f"no channel {body['channel']}")
            op, ts, hlc = self._op()
            event = {"op": op, "channel": body["channel"], "user": body["user"], "text": body["text"], "lc": request["lc"], "hlc": hlc, "ts": ts}
            self.history[body["channel"]].append(event)
            await self.publisher.publish(channel_topic(body["channel"]), "chat.publication", [event])
            return {"op": op, "channel": body["channel"], "lc": request["lc"], "ts": ts}
        if kind == "chat.direct.request":
            op, ts, hlc = self._op()
            event = {"op": op, "from": body["user"], "to": body["to"], "text": body["text"], "lc": request["lc"], "hlc": hlc, "ts": ts}
            await self.publisher.publish(user_topic(body["to"]), "chat.direct", [event])
            return {"op": op, "to": body["to"], "lc": request["lc"], "ts": ts}
        if kind == "chat.history.request":
            return {"messages": self.history.get(body["channel"], [])[-body.get("limit", 50):]}
        raise CorreioError("BAD_REQUEST", f"not served here: {kind}")


async def first_event(chat: ChatClient, probe) -> Publication:
    """Repeats ``probe`` until an event arrives: subscriptions take a moment to reach the publisher."""
    events = chat.events()
    for _ in range(100):
        await probe()
        try:
            delivery = await asyncio.wait_for(events.__anext__(), 0.1)
        except asyncio.TimeoutError:
            continue
        if isinstance(delivery, Publication):
            return delivery
    raise AssertionError("no event arrived")


def test_chat_session(context, run) -> None:
    async def scenario() -> None:
        async with MiniBroker(context) as broker, MiniProxy(context) as proxy:
            publisher = Publisher(proxy.publishers, stamp=Stamp("py-chat"), context=context)
            chat = InMemoryChat(publisher)
            async with MdpWorker(broker.endpoint, "chat", chat, context=context, heartbeat=0.5):
                async with ChatClient(broker.endpoint, proxy.subscribers, "alice", context=context) as alice, ChatClient(broker.endpoint, proxy.subscribers, "bob", context=context) as bob:
                    assert (await alice.login())["created"] is True
                    assert (await alice.login())["created"] is False
                    await bob.login()
                    assert [u["user"] for u in (await alice.users())["users"]] == ["alice", "bob"]
                    assert (await alice.create_channel("general"))["created"] is True
                    assert (await bob.create_channel("general"))["created_by"] == "alice"
                    assert [c["channel"] for c in (await bob.channels())["channels"]] == ["general"]

                    bob.join("general")
                    event = await first_event(bob, lambda: alice.publish("general", "hi all"))
                    assert event.topic == "chan/general/" and event.envelope["type"] == "chat.publication"
                    assert event.envelope["body"]["user"] == "alice" and event.envelope["body"]["text"] == "hi all"
                    # Lamport: bob's clock passed what he received, so his next request is stamped after it.
                    assert bob.lc > max(event.envelope["lc"], event.envelope["body"]["lc"])
                    answer = await bob.publish("general", "hello alice")
                    assert answer["lc"] > event.envelope["body"]["lc"]

                    direct = await first_event(alice, lambda: bob.direct("alice", "psst"))
                    assert direct.topic == "user/alice/" and direct.envelope["body"]["from"] == "bob"

                    history = await bob.history("general", limit=500)
                    assert [m["text"] for m in history["messages"]][-2:] == ["hi all", "hello alice"]
                    chat.history["general"].append({**history["messages"][-1], "lc": 10_000})  # a stored message from far ahead
                    await bob.history("general", limit=500)
                    assert bob.lc > 10_000  # stored messages' clocks are merged too
                    with pytest.raises(CorreioError) as raised:
                        await alice.publish("nowhere", "hello?")
                    assert raised.value.code == "NOT_FOUND"
            publisher.close()

    run(scenario())


