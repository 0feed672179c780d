"""A Correio chat client: requests through the broker, live events through the proxy."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

import zmq.asyncio

from .client import MdpClient
from .envelope import Stamp, new_node_id
from .errors import CorreioError
from .subscriber import Delivery, Publication, Subscriber
from .tokens import Tokens
from .topics import channel_topic, user_topic

#: The broker service of every chat request (FRAMES.md section 4.2).
CHAT_SERVICE = "chat"

#: The body field naming the acting user; with a token the server takes the user from it instead.
_ACTING_USER = "user"


class ChatClient:
    """One user's session. ``async with ChatClient(broker, proxy, "alice") as chat: ...``.

    Request methods return the reply body (see the ``chat.*.reply`` schemas) and raise
    CorreioError for an ``error`` reply or a TIMEOUT. ``events()`` yields ``chat.publication``
    and ``chat.direct`` deliveries, with a Gap item whenever the numbering shows a loss (re-read
    with ``history`` or ``conversation`` then).

    Identity (protocol revision 1.1): ``register(password)`` once, then ``login(password)``
    (``login()`` without one on servers running ``--auth open``). Login keeps the access and
    refresh tokens; every later request carries the access token as the envelope's ``auth`` and
    no body ``user`` (the server takes the user from the token). The access token is refreshed
    (``chat.refresh.request``) when less than ``refresh_margin`` seconds of it are left, judged by
    the ``expires_at`` the server sent; ``logout()`` revokes every token of the user.

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
        refresh_margin: float = 60.0,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.user = user
        self.service = service
        self.refresh_margin = refresh_margin
        self.tokens: Tokens | None = None
        self._refreshing = asyncio.Lock()
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
        """A request acting as this user: with the access token (refreshed first if it is about to
        expire) when logged in, else with the body ``user`` where the request names one."""
        if self.tokens is None:
            return await self.requests.call(self.service, message_type, body)
        await self._refresh_if_due()
        acting = {key: value for key, value in body.items() if key != _ACTING_USER}
        return await self.requests.call(self.service, message_type, acting, auth=self.tokens.access)

    async def _anonymous(self, message_type: str, body: dict[str, Any]) -> dict[str, Any]:
        """register, login and refresh: never carry a token."""
        return await self.requests.call(self.service, message_type, body)

    async def register(self, password: str) -> dict[str, Any]:
        """Registers this user with a password (CONFLICT if the name is taken); log in after."""
        return await self._anonymous("chat.register.request", {"user": self.user, "password": password})

    async def login(self, password: str | None = None) -> dict[str, Any]:
        """Logs in and keeps the tokens of the reply. Without a password: servers in open mode only."""
        reply = await self._anonymous("chat.login.request", {"user": self.user, **_present(password=password)})
        self.tokens = Tokens.from_reply(reply)
        return reply

    async def refresh(self) -> dict[str, Any]:
        """Exchanges the refresh token for new tokens now (requests do it by themselves when due)."""
        if self.tokens is None:
            raise CorreioError("UNAUTHENTICATED", "not logged in: no refresh token")
        reply = await self._anonymous("chat.refresh.request", {"refresh_token": self.tokens.refresh})
        self.tokens = Tokens.from_reply(reply)
        return reply

    async def _refresh_if_due(self) -> None:
        async with self._refreshing:  # concurrent requests refresh once
            if self.tokens is not None and self.tokens.expires_within(self.refresh_margin):
                await self.refresh()

    async def logout(self) -> dict[str, Any]:
        """Revokes every token of this user, on every server once replicated, and forgets them."""
        reply = await self._call("chat.logout.request", {})
        self.tokens = None
        return reply

    async def change_password(self, password: str, new_password: str) -> dict[str, Any]:
        """Changes the password; every token issued before stops verifying, so log in again after."""
        reply = await self._call("chat.password.request", {"password": password, "new_password": new_password})
        self.tokens = None
        return reply

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
