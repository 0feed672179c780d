"""An MDP/0.2 client (FRAMES.md sections 1.2, 1.4 and 1.9) on one DEALER socket, for asyncio.

Many requests may be in flight at once, to any mix of services; each reply is matched to its
request by the envelope ``id``, never by order. A request that gets no FINAL in time is sent again
with the same id (so the service can recognise the retry) up to ``retries`` times, then fails with
TIMEOUT. Replies nobody waits for any more (late replies after a timeout) are dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any, Mapping

import zmq
import zmq.asyncio

from . import mdp
from .envelope import Stamp, new_node_id
from .errors import CorreioError
from .generated.catalogue import MESSAGE_INFO
from .limits import DEFAULT_LIMITS, Limits
from .message import decode_message, encode_message

log = logging.getLogger(__name__)


class MdpClient:
    """Sends requests through a Majordomo broker and awaits their replies.

    Use as ``async with MdpClient("tcp://127.0.0.1:5555") as client: ...``.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        stamp: Stamp | None = None,
        timeout: float = 5.0,
        retries: int = 1,
        limits: Limits = DEFAULT_LIMITS,
        context: zmq.asyncio.Context | None = None,
        framing: mdp.Framing | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ValueError("timeout must be positive and retries non-negative")
        self.endpoint = endpoint
        #: How REQUESTs are framed (FRAMES.md 1.12); replies are accepted in either framing.
        self.framing: mdp.Framing = framing if framing is not None else mdp.default_framing()
        self.stamp = stamp if stamp is not None else Stamp(new_node_id("py-client"))
        self.timeout = timeout
        self.retries = retries
        self.limits = limits
        self._context = context if context is not None else zmq.asyncio.Context.instance()
        self._socket: zmq.asyncio.Socket | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        # MMI replies carry no id: the broker answers them in order (FRAMES.md 1.9).
        self._mmi: deque[asyncio.Future[str]] = deque()
        self._receiver: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "MdpClient":
        self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def connect(self) -> None:
        """Opens the DEALER socket and starts matching replies; called by ``async with``."""
        if self._socket is not None:
            return
        socket = self._context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(self.endpoint)
        self._socket = socket
        self._receiver = asyncio.get_running_loop().create_task(self._receive_loop())

    async def close(self) -> None:
        """Fails every request in flight with UNAVAILABLE and closes the socket."""
        if self._receiver is not None:
            self._receiver.cancel()
            try:
                await self._receiver
            except asyncio.CancelledError:
                pass
            self._receiver = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        closed = CorreioError("UNAVAILABLE", "the client was closed")
        for future in [*self._pending.values(), *self._mmi]:
            if not future.done():
                future.set_exception(closed)
        self._pending.clear()
        self._mmi.clear()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def request(
        self,
        service: str,
        message_type: str,
        body: Mapping[str, Any],
        *,
        timeout: float | None = None,
        retries: int | None = None,
        request_id: str | None = None,
        auth: str | None = None,
    ) -> dict[str, Any]:
        """Sends one request and returns the reply envelope (its reply type); ``auth`` is the
        access token of the user it acts for (the envelope's ``auth``), if any.

        Raises CorreioError: the error a peer answered with, TIMEOUT when every attempt timed
        out, or VALIDATION when ``body`` does not match the request's schema.
        """
        socket = self._require_socket()
        info = MESSAGE_INFO.get(message_type)
        if info is None or info.pattern != "request":
            raise ValueError(f"{message_type!r} is not a request type")
        attempt_timeout = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        envelope = self.stamp.envelope(message_type, body, request_id, auth=auth)
        request_id = envelope["id"]
        if request_id in self._pending:
            raise ValueError(f"request id {request_id!r} is already in flight")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            for attempt in range(attempts):
                if attempt > 0:
                    # A retry keeps the id; only the clock reading is new.
                    envelope = self.stamp.envelope(message_type, body, request_id, auth=auth)
                    log.debug("retrying %s %s (attempt %d)", message_type, request_id, attempt + 1)
                await socket.send_multipart(mdp.client_request(service, encode_message(envelope), self.framing))
                try:
                    reply = await asyncio.wait_for(asyncio.shield(future), attempt_timeout)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise CorreioError("TIMEOUT", f"no reply to {message_type} {request_id} from {service} after {attempts} attempt(s) of {attempt_timeout}s")
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()
        if reply["type"] == "error":
            raise CorreioError.from_wire(reply["body"])
        if reply["type"] != info.reply:
            raise CorreioError("VALIDATION", f"expected {info.reply} in reply to {message_type}, got {reply['type']}", data={"path": "/type"})
        return reply

    async def call(self, service: str, message_type: str, body: Mapping[str, Any], **options: Any) -> dict[str, Any]:
        """Like ``request``, returning only the reply body."""
        return (await self.request(service, message_type, body, **options))["body"]

    async def service_exists(self, service: str, *, timeout: float | None = None) -> bool:
        """Asks the broker (MMI, ``mmi.service``) whether a live worker serves ``service``."""
        code = await self.mmi(mdp.MMI_SERVICE, service, timeout=timeout)
        return code == "200"

    async def mmi(self, mmi_service: str, body: str, *, timeout: float | None = None) -> str:
        """Sends one MMI query and returns the broker's plain-text code ("200", "404", "501")."""
        socket = self._require_socket()
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._mmi.append(future)
        await socket.send_multipart(mdp.client_request(mmi_service, body.encode("ascii"), self.framing))
        try:
            return await asyncio.wait_for(future, self.timeout if timeout is None else timeout)
        except asyncio.TimeoutError:
            raise CorreioError("TIMEOUT", f"no MMI reply from the broker for {mmi_service}") from None

    def _require_socket(self) -> zmq.asyncio.Socket:
        if self._socket is None:
            raise RuntimeError("the client is not connected; use `async with` or call connect()")
        return self._socket

    async def _receive_loop(self) -> None:
        socket = self._require_socket()
        while True:
            frames = await socket.recv_multipart()
            try:
                self._dispatch(mdp.parse_client_reply(frames))
            except (mdp.FrameError, CorreioError) as error:
                log.warning("dropping a malformed reply: %s", error)

    def _dispatch(self, reply: mdp.ClientReply) -> None:
        if reply.service.startswith("mmi."):
            future = self._mmi.popleft() if self._mmi else None
            if future is not None and not future.done():
                future.set_result(b"".join(reply.body).decode("ascii", "replace"))
            return
        if len(reply.body) != 1:
            raise mdp.FrameError(f"a reply carries exactly one body frame, got {len(reply.body)}")
        envelope = decode_message(reply.body[0], self.limits)
        self.stamp.observe(envelope)
        if not reply.final:
            return  # v1 services never stream; a PARTIAL is accepted and ignored
        future = self._pending.get(envelope["id"])
        if future is None or future.done():
            log.debug("dropping a reply nobody waits for: %s %s", envelope["type"], envelope["id"])
            return
        future.set_result(envelope)
