"""Calling actions through the broker (as libs/service/src/ServiceClient.ts): one attempt is a
``service.call.request`` to ``svc.<service>`` carrying the attempt's timeout as ``correio.timeout``;
retryable failures are retried with the SAME request id after a backoff; a circuit breaker per action,
when enabled (``circuit_breaker=CircuitBreakerOptions()``; off by default, as in TypeScript and Go),
fails fast while a callee keeps failing; the reply must be ``service.call.reply``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Mapping, TypedDict

from typing_extensions import Unpack

import zmq.asyncio

from ..client import MdpClient
from ..envelope import Stamp, new_request_id
from ..errors import CorreioError
from .backoff import Backoff
from .circuit import CircuitBreaker, CircuitBreakerOptions
from .meta import TIMEOUT_META
from .names import broker_service, split_action

log = logging.getLogger(__name__)

#: Marks "no params" apart from an explicit None (nil).
NO_PARAMS: Any = object()


class CallOptions(TypedDict, total=False):
    """Per call: ``timeout`` of one attempt (seconds), ``retries`` of retryable failures (same id),
    ``meta`` passed to the action, ``request_id`` (a retry of an earlier call reuses its id)."""

    timeout: float | None
    retries: int | None
    meta: Mapping[str, str] | None
    request_id: str | None


class ServiceClient:
    """``await client.call("greeter.hello", {"name": "ana"}, timeout=2, retries=2)``."""

    def __init__(
        self,
        broker: str,
        *,
        stamp: Stamp,
        timeout: float = 5.0,
        retries: int = 0,
        backoff: Backoff = Backoff(initial=0.1, maximum=5.0),
        circuit_breaker: CircuitBreakerOptions | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ValueError("timeout must be positive and retries non-negative")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.breaker = CircuitBreaker(circuit_breaker) if circuit_breaker is not None else None
        self.mdp = MdpClient(broker, stamp=stamp, timeout=timeout, retries=0, context=context)

    def connect(self) -> None:
        self.mdp.connect()

    async def close(self) -> None:
        await self.mdp.close()

    async def call(self, action: str, params: Any = NO_PARAMS, **options: Unpack[CallOptions]) -> Any:
        """The action's result (None when it returned nothing); raises CorreioError."""
        return (await self.call_reply(action, params, **options)).get("result")

    async def call_reply(self, action: str, params: Any = NO_PARAMS, **options: Unpack[CallOptions]) -> dict[str, Any]:
        """Like ``call``, returning the ``service.call.reply`` body: without ``result`` when the action
        returned nothing, with ``result: None`` when it returned nil."""
        timeout, retries, meta, request_id = options.get("timeout"), options.get("retries"), options.get("meta"), options.get("request_id")
        service, _ = split_action(action)
        attempt_timeout = self.timeout if timeout is None else timeout
        if attempt_timeout <= 0:
            raise CorreioError("TIMEOUT", f"{action}: no time left to call it", retryable=False)
        request_id = request_id or new_request_id()
        body: dict[str, Any] = {"action": action, "meta": {**(meta or {}), TIMEOUT_META: str(max(1, round(attempt_timeout * 1000)))}}
        if params is not NO_PARAMS:
            body["params"] = params
        target = broker_service(service)
        reply: dict[str, Any] = await self._retrying(action, request_id, retries, lambda: self._attempt(action, target, body, attempt_timeout, request_id))
        return reply

    async def _attempt(self, action: str, service: str, body: Mapping[str, Any], timeout: float, request_id: str) -> Any:
        circuit = self.breaker.circuit(action) if self.breaker is not None else None
        permit = circuit.acquire() if circuit is not None else None
        try:
            reply = await self.mdp.request(service, "service.call.request", body, timeout=timeout, retries=0, request_id=request_id)
        except CorreioError as error:
            if circuit is not None and permit is not None:
                circuit.record(permit, failed=error.retryable)
            raise
        except BaseException:
            if circuit is not None and permit is not None:
                circuit.release(permit)  # the caller gave up: that says nothing about the callee
            raise
        if circuit is not None and permit is not None:
            circuit.record(permit, failed=False)
        return reply["body"]

    async def request(self, service: str, message_type: str, body: Mapping[str, Any], *, timeout: float | None = None, retries: int | None = None) -> dict[str, Any]:
        """One framework request (such as ``service.emit.request``) with retries of retryable failures; returns the reply body."""
        request_id = new_request_id()
        attempt_timeout = timeout or self.timeout
        reply: dict[str, Any] = await self._retrying(message_type, request_id, retries, lambda: self.mdp.call(service, message_type, body, timeout=attempt_timeout, retries=0, request_id=request_id))
        return reply

    async def _retrying(self, what: str, request_id: str, retries: int | None, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """Runs ``attempt`` until it succeeds, fails for good or the retries are spent; backoff in between."""
        allowed = self.retries if retries is None else retries
        for number in range(1, allowed + 2):
            try:
                return await attempt()
            except CorreioError as error:
                if number > allowed or not error.retryable:
                    raise
                log.debug("retrying %s %s after %s (attempt %d)", what, request_id, error.code, number + 1)
                await asyncio.sleep(self.backoff.delay(number))
        raise AssertionError("unreachable")

    async def service_exists(self, service: str, *, timeout: float) -> bool:
        return await self.mdp.service_exists(service, timeout=timeout)
