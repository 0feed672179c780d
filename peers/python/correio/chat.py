"""A Correio chat client: requests through the broker, live events through the proxy."""

from __future__ import annotations

from typing import Any, AsyncIterator

import zmq.asyncio

from .client import MdpClient
from .envelope import Stamp, new_node_id
from .subscriber import Delivery, Publication, Subscriber
from .topics import channel_topic, user_topic

#: The broker service of every chat request (FRAMES.md section 4.2).
CHAT_SERVICE = "chat"


class ChatClient:
    """One user's session. ``async with ChatClient(broker, proxy, "alice") as chat: ...``.

    Request methods return the reply body (see the ``chat.*.reply`` schemas) and raise
    CorreioError for an ``error`` reply or a TIMEOUT. ``events()`` yields ``chat.publication``
    and ``chat.direct`` deliveries, with a Gap item whenever the numbering shows a loss (re-read
    with ``history`` or ``conversation`` then).

    One Lamport clock (``lc``) ticks on every request and merges every reply, every event and
    every stored message read: what this client sends is stamped after everything it received.
    """

    def __init__(
        self,
        broker: str,
        proxy: str | None,
        user: str,
        *,
        service: str = CHAT_SERVICE,
        timeout: float = 5.0,
        retries: int = 1,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.user = user
        self.service = service
        self.requests = MdpClient(broker, stamp=Stamp(new_node_id(f"py-chat-{user}")), timeout=timeout, retries=retries, context=context)
        # Subscribe first, read state after (FRAMES.md 3.6): created before any request is sent.
        self.subscriber = Subscriber(proxy, [user_topic(user)], context=context) if proxy is not None else None

    async def __aenter__(self) -> "ChatClient":
        self.requests.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.requests.close()
        if self.subscriber is not None:
            self.subscriber.close()

    @property
    def lc(self) -> int:
        """The Lamport clock: the latest value this client sent or merged."""
        return self.requests.stamp.clock.value

    async def _call(self, message_type: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.requests.call(self.service, message_type, body)

    async def login(self) -> dict[str, Any]:
        return await self._call("chat.login.request", {"user": self.user})

    async def users(self, *, limit: int | None = None, after: str | None = None) -> dict[str, Any]:
        return await self._call("chat.users.request", _present(limit=limit, after=after))

    async def channels(self, *, limit: int | None = None, after: str | None = None) -> dict[str, Any]:
        return await self._call("chat.channels.request", _present(limit=limit, after=after))

    async def create_channel(self, channel: str) -> dict[str, Any]:
        return await self._call("chat.channel.create.request", {"user": self.user, "channel": channel})

    async def publish(self, channel: str, text: str) -> dict[str, Any]:
        return await self._call("chat.publish.request", {"user": self.user, "channel": channel, "text": text})

    async def direct(self, to: str, text: str) -> dict[str, Any]:
        return await self._call("chat.direct.request", {"user": self.user, "to": to, "text": text})

    async def history(self, channel: str, *, limit: int | None = None, before: str | None = None) -> dict[str, Any]:
        reply = await self._call("chat.history.request", {"channel": channel, **_present(limit=limit, before=before)})
        return self._merge_stored(reply)

    async def conversation(self, peer: str, *, limit: int | None = None, before: str | None = None) -> dict[str, Any]:
        reply = await self._call("chat.conversation.request", {"user": self.user, "peer": peer, **_present(limit=limit, before=before)})
        return self._merge_stored(reply)

    def _merge_stored(self, reply: dict[str, Any]) -> dict[str, Any]:
        """Each stored message carries its origin's clock: merged like a received message."""
        for stored in reply["messages"]:
            self.requests.stamp.clock.observe(stored["lc"])
        return reply

    def join(self, channel: str) -> None:
        """Receives the channel's publications from now on (subscribe, then read ``history``)."""
        self._require_subscriber().subscribe(channel_topic(channel))

    def leave(self, channel: str) -> None:
        self._require_subscriber().unsubscribe(channel_topic(channel))

    async def events(self) -> AsyncIterator[Delivery]:
        """Publications to joined channels, direct messages to this user, and gaps.

        The clocks of each delivery (its envelope's and its message's ``lc``) are merged before it
        is yielded, so ``lc`` is already past them.
        """
        subscriber = self._require_subscriber()
        while True:
            delivery = await subscriber.receive()
            if isinstance(delivery, Publication):
                self.requests.stamp.observe(delivery.envelope)
                self.requests.stamp.clock.observe(delivery.envelope["body"].get("lc"))
            yield delivery

    def _require_subscriber(self) -> Subscriber:
        if self.subscriber is None:
            raise RuntimeError("this ChatClient was created without a proxy endpoint")
        return self.subscriber


def _present(**fields: Any) -> dict[str, Any]:
    """Absent optional fields are omitted on the wire, never nil (ENCODING.md section 1)."""
    return {key: value for key, value in fields.items() if value is not None}
