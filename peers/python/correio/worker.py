"""An MDP/0.2 worker (FRAMES.md sections 1.3-1.8) serving one broker service, for asyncio.

Each connection is one DEALER socket: it sends READY, serves one request at a time, and answers
each with exactly one FINAL carrying the request's id (the handler's reply, or an ``error``
envelope). Heartbeats run in both directions and keep running while a request is being served;
when the broker sends DISCONNECT or stays silent for ``heartbeat * liveness``, the connection
closes its socket, waits ``reconnect_delay`` and starts over with a new socket and READY.
``concurrency=N`` opens N connections, which the broker load-balances like N workers (1.7).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, Union

import zmq
import zmq.asyncio

from . import mdp
from .clock import LamportExhausted
from .codec import decode
from .envelope import UNKNOWN_REQUEST_ID, Stamp, is_request_id, new_node_id
from .errors import CorreioError
from .generated.catalogue import MESSAGE_INFO
from .limits import DEFAULT_LIMITS, Limits
from .message import encode_message, validate_message

log = logging.getLogger(__name__)

#: Seconds between two warnings about requests clamped to the Lamport bounds (the rest at debug).
CLAMPED_WARNING_INTERVAL = 60.0

#: Receives a validated request envelope, returns the reply body (the reply type is the
#: request's ``x-correio-reply``), or raises CorreioError to answer with an ``error``.
Handler = Callable[[dict[str, Any]], Union[Mapping[str, Any], Awaitable[Mapping[str, Any]]]]


class MdpWorker:
    """Serves ``service`` through the broker at ``endpoint`` until ``stop()`` is called."""

    def __init__(
        self,
        endpoint: str,
        service: str,
        handler: Handler,
        *,
        stamp: Stamp | None = None,
        heartbeat: float = 2.5,
        liveness: int = 3,
        reconnect_delay: float | None = None,
        concurrency: int = 1,
        limits: Limits = DEFAULT_LIMITS,
        context: zmq.asyncio.Context | None = None,
        framing: mdp.Framing | None = None,
    ) -> None:
        mdp.service_frame(service)  # validates the name
        #: How READY, HEARTBEAT and DISCONNECT are framed (FRAMES.md 1.12); each reply goes as its REQUEST came.
        self.framing: mdp.Framing = framing if framing is not None else mdp.default_framing()
        if heartbeat <= 0 or liveness < 1 or concurrency < 1:
            raise ValueError("heartbeat must be positive, liveness and concurrency at least 1")
        self.endpoint = endpoint
        self.service = service
        self.handler = handler
        self.stamp = stamp if stamp is not None else Stamp(new_node_id("py-worker"))
        self.heartbeat = heartbeat
        self.liveness = liveness
        self.reconnect_delay = heartbeat if reconnect_delay is None else reconnect_delay
        self.concurrency = concurrency
        self.limits = limits
        self._context = context if context is not None else zmq.asyncio.Context.instance()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        #: Set by drain(): new requests are refused with UNAVAILABLE (retryable), in-flight ones finish.
        self._draining = False
        self._serving: dict[int, asyncio.Task[None]] = {}
        #: Counters for tests and metrics.
        self.served = 0
        #: Requests whose reply could not be built (contained: logged, no reply sent).
        self.reply_failures = 0
        self.connects = 0
        #: Requests refused with UNAVAILABLE while draining.
        self.refused = 0
        #: Requests still running when the drain timeout expired (cancelled, no reply).
        self.abandoned = 0
        self._clamped_warned_at: float | None = None
        self._clamped_since_warning = 0

    async def __aenter__(self) -> "MdpWorker":
        self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def start(self) -> None:
        """Starts the connections in the running event loop."""
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run_connection(index)) for index in range(self.concurrency)]

    async def stop(self) -> None:
        """Sends DISCONNECT on every connection and closes them."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks = []

    async def drain(self, timeout: float) -> None:
        """Graceful stop: idle connections disconnect at once; busy ones finish their request (up to
        ``timeout`` seconds; then it is cancelled) and disconnect; requests arriving meanwhile are
        refused with UNAVAILABLE, so their callers retry elsewhere."""
        self._draining = True
        deadline = asyncio.get_running_loop().time() + timeout

        async def drain_connection(index: int, connection: asyncio.Task[None]) -> None:
            serving = self._serving.get(index)
            if serving is not None and not serving.done():
                done, _ = await asyncio.wait({serving}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
                if not done:
                    self.abandoned += 1
                    log.warning("worker %s[%d]: a request still ran at the drain deadline; cancelled", self.service, index)
            connection.cancel()
            try:
                await connection
            except asyncio.CancelledError:
                pass

        await asyncio.gather(*(drain_connection(index, task) for index, task in enumerate(self._tasks)))
        await self.stop()

    async def _run_connection(self, index: int) -> None:
        while not self._stopping.is_set():
            socket = self._context.socket(zmq.DEALER)
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(self.endpoint)
            self.connects += 1
            try:
                await self._serve(socket, index)
            except asyncio.CancelledError:
                # Shutting down: tell the broker, give the frame a moment to leave.
                socket.setsockopt(zmq.LINGER, 100)
                try:
                    zmq.Socket.shadow(socket.underlying).send_multipart(mdp.worker_disconnect(self.framing), flags=zmq.NOBLOCK)
                except zmq.ZMQError:
                    pass
                socket.close()
                raise
            socket.close(linger=0)
            log.info("worker %s[%d] reconnecting in %.1fs", self.service, index, self.reconnect_delay)
            await asyncio.sleep(self.reconnect_delay)

    async def _serve(self, socket: zmq.asyncio.Socket, index: int = 0) -> None:
        """Serves one connection; returns when the broker disconnects or stops answering."""
        loop = asyncio.get_running_loop()
        await socket.send_multipart(mdp.worker_ready(self.service, self.framing))
        expiry = self.heartbeat * self.liveness
        last_heard = loop.time()
        next_heartbeat = loop.time() + self.heartbeat
        serving: asyncio.Task[None] | None = None
        busy = [False]  # cleared by _answer just before FINAL leaves
        try:
            while True:
                wait = max(0.0, min(next_heartbeat, last_heard + expiry) - loop.time())
                if await socket.poll(wait * 1000, zmq.POLLIN):
                    frames = await socket.recv_multipart()
                    last_heard = loop.time()  # any command is a sign of life
                    try:
                        command = mdp.parse_worker_command(frames)
                    except mdp.FrameError as error:
                        log.warning("worker %s: dropping a malformed command: %s", self.service, error)
                        continue
                    if command.command == mdp.DISCONNECT:
                        log.info("worker %s: the broker sent DISCONNECT", self.service)
                        return
                    if command.command == mdp.WORKER_REQUEST:
                        if self._draining:
                            self.refused += 1
                            await socket.send_multipart(mdp.worker_final(command.client, self._refusal(command.body), command.framing))
                            continue
                        if busy[0]:
                            log.warning("worker %s: a second REQUEST while serving one; dropped", self.service)
                            continue
                        # Served in its own task, so heartbeats go on while the handler runs.
                        busy[0] = True
                        serving = self._serving[index] = loop.create_task(self._answer(socket, command, busy))
                now = loop.time()
                if now - last_heard >= expiry:
                    log.warning("worker %s: no sign of life from the broker for %.1fs", self.service, expiry)
                    return
                if now >= next_heartbeat:
                    await socket.send_multipart(mdp.worker_heartbeat(self.framing))
                    next_heartbeat = now + self.heartbeat
        finally:
            if serving is not None and not serving.done():
                serving.cancel()

    async def _answer(self, socket: zmq.asyncio.Socket, command: mdp.WorkerCommand, busy: list[bool]) -> None:
        try:
            reply = await self.handle(command.body)
        except Exception:  # noqa: BLE001 - the reply path itself failed: contained, counted, logged
            # No request may wedge or kill the worker: idle again, the client's retry covers it.
            busy[0] = False
            self.reply_failures += 1
            log.exception("worker %s: the reply path of a request failed", self.service)
            return
        # Idle again before FINAL leaves: the broker may send the next REQUEST at once.
        busy[0] = False
        await socket.send_multipart(mdp.worker_final(command.client, reply, command.framing))
        self.served += 1

    def _refusal(self, body: tuple[bytes, ...]) -> bytes:
        """The UNAVAILABLE reply to a request that arrives while draining, with its id when readable."""
        request_id = UNKNOWN_REQUEST_ID
        try:
            value = decode(body[0], self.limits) if len(body) == 1 else None
            if isinstance(value, dict) and is_request_id(value.get("id")):
                request_id = value["id"]
        except CorreioError:
            pass
        error = CorreioError("UNAVAILABLE", "the worker is stopping; retry with the same id", retryable=True)
        return encode_message(self.stamp.error(request_id, error))

    async def handle(self, body: tuple[bytes, ...] | list[bytes]) -> bytes:
        """The encoded reply to a REQUEST's body frames: the handler's reply or an error envelope."""
        reply = await self._reply(body)
        try:
            return encode_message(reply)
        except CorreioError as error:
            log.error("worker %s: the handler returned an invalid reply: %s", self.service, error)
            internal = CorreioError("INTERNAL", f"the service produced an invalid reply: {error.message}")
            return encode_message(self.stamp.error(reply["id"], internal))

    async def _reply(self, body: tuple[bytes, ...] | list[bytes]) -> dict[str, Any]:
        request_id = UNKNOWN_REQUEST_ID
        try:
            if not body:
                raise CorreioError("DECODE", "a request carries exactly one body frame, got none")
            value = decode(body[0], self.limits)
            if isinstance(value, dict) and is_request_id(value.get("id")):
                request_id = value["id"]
            if len(body) != 1:
                raise CorreioError("DECODE", f"a request carries exactly one body frame, got {len(body)}")
            request = validate_message(value)
            # Beyond the Lamport bounds: merged clamped and served, never refused (a refusal let an
            # attacker who had spent this peer's budget cut honest peers off from it, ENCODING.md 4.1).
            if self.stamp.observe(request, request=True):
                self._clamped_request(request)
            info = MESSAGE_INFO[request["type"]]
            if info.pattern != "request" or info.reply is None:
                raise CorreioError("BAD_REQUEST", f"{request['type']} is not a request")
            result = self.handler(request)
            reply_body = await result if inspect.isawaitable(result) else result
            return self.stamp.envelope(info.reply, reply_body, request_id)
        except LamportExhausted as error:
            return self.stamp.error(request_id, CorreioError("UNAVAILABLE", f"this peer cannot serve: {error}", data={"reason": "lamport_exhausted"}))
        except Exception as error:  # noqa: BLE001 - every failure is answered, never dropped
            wrapped = CorreioError.wrap(error)
            if wrapped is not error:
                log.exception("worker %s: handler failed", self.service)
            return self.stamp.error(request_id, wrapped)

    def _clamped_request(self, request: Mapping[str, Any]) -> None:
        """Logs a request clamped to the Lamport bounds: a warning at most once a minute, debug otherwise."""
        self._clamped_since_warning += 1
        now = time.monotonic()
        if self._clamped_warned_at is not None and now - self._clamped_warned_at < CLAMPED_WARNING_INTERVAL:
            log.debug("worker %s: request %s from %s: lc %d beyond the Lamport bounds, merged clamped", self.service, request["id"], request["from"], request["lc"])
            return
        log.warning(
            "worker %s: a request's lc was beyond the Lamport bounds: merged only up to them, and served (%d since the last such warning; e.g. %s from %s, lc %d)",
            self.service, self._clamped_since_warning, request["id"], request["from"], request["lc"],
        )
        self._clamped_warned_at, self._clamped_since_warning = now, 0
