"""correio.service actions over real sockets, against the TypeScript broker and proxy: typed results
and errors, NOT_FOUND / BAD_REQUEST / VALIDATION, the caller's deadline, retries with the same id
and their deduplication, the circuit breaker."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, Callable, TypedDict

import pytest

from correio import MdpClient
from correio.service import ActionContext, CircuitBreakerOptions, CorreioError, Service, action

from .services import FAST, endpoints, running, until


class AddParams(TypedDict):
    a: int
    b: int


class Calc(Service):
    name = "calc"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.runs: Counter[str] = Counter()
        self.ids: list[str] = []
        self.cancelled = asyncio.Event()

    @action
    async def add(self, ctx: ActionContext, params: AddParams) -> dict[str, Any]:
        return {"sum": params["a"] + params["b"], "by": self.instance}

    @action
    async def nothing(self, ctx: ActionContext, params: Any) -> None:
        return None

    @action
    async def conflict(self, ctx: ActionContext, params: Any) -> None:
        raise CorreioError("CONFLICT", "that name is taken", data={"name": "ana"})

    @action
    async def crash(self, ctx: ActionContext, params: Any) -> None:
        raise RuntimeError("the disk is on fire")

    @action(schema={"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}, "required": ["name"]})
    async def greet(self, ctx: ActionContext, params: Any) -> str:
        return f"hello {params['name']}"

    @action
    async def meta(self, ctx: ActionContext, params: Any) -> dict[str, str]:
        return dict(ctx.meta)

    @action
    async def slow(self, ctx: ActionContext, params: int) -> int:
        try:
            await asyncio.sleep(params / 1000)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return params

    @action
    async def flaky(self, ctx: ActionContext, params: Any) -> dict[str, Any]:
        """Unavailable on the first run of each request id, then fine."""
        self.runs[ctx.id] += 1
        self.ids.append(ctx.id)
        if self.runs[ctx.id] == 1:
            raise CorreioError("UNAVAILABLE", "warming up")
        return {"runs": self.runs[ctx.id]}

    @action
    async def counted(self, ctx: ActionContext, params: Any) -> int:
        self.runs["counted"] += 1
        return self.runs["counted"]

    @action
    async def down(self, ctx: ActionContext, params: Any) -> None:
        self.runs["down"] += 1
        raise CorreioError("UNAVAILABLE", "the database is down")


def services(topology: Any, **caller: Any) -> tuple[Calc, Service]:
    return Calc(**endpoints(topology), **FAST), Service(name="caller", **endpoints(topology), **FAST, **caller)


async def raises(work: Any) -> CorreioError:
    with pytest.raises(CorreioError) as caught:
        await work
    return caught.value


def test_typed_results_and_errors(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        calc, caller = services(topology)
        async with running(calc, caller):
            assert await caller.call("calc.add", {"a": 2, "b": 3}) == {"sum": 5, "by": calc.instance}
            assert await caller.call("calc.nothing") is None
            conflict = await raises(caller.call("calc.conflict"))
            assert (conflict.code, conflict.message, conflict.retryable, conflict.data) == ("CONFLICT", "that name is taken", False, {"name": "ana"})
            crash = await raises(caller.call("calc.crash"))
            assert crash.code == "INTERNAL" and "Traceback" not in crash.message and "File " not in crash.message
            missing = await raises(caller.call("calc.divide", {"a": 1}))
            assert missing.code == "NOT_FOUND" and "calc.divide" in missing.message
            assert await caller.call("calc.meta", meta={"trace": "t-1"}) == {"trace": "t-1"}  # correio.timeout hidden

            # The wire itself: no result key for nothing; BAD_REQUEST for another service's action on svc.calc.
            async with MdpClient(topology.broker, timeout=5, retries=0) as raw:
                assert await raw.call("svc.calc", "service.call.request", {"action": "calc.nothing"}) == {}
                wrong = await raises(raw.call("svc.calc", "service.call.request", {"action": "other.add", "params": {}}))
                assert wrong.code == "BAD_REQUEST" and "other.add" in wrong.message

    run(scenario())


def test_params_are_validated_naming_the_field(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        calc, caller = services(topology)
        async with running(calc, caller):
            typed = await raises(caller.call("calc.add", {"a": "two", "b": 3}))
            assert typed.code == "VALIDATION" and "params.a" in typed.message and typed.data == {"path": "/body/params/a"}
            absent = await raises(caller.call("calc.add", {"a": 1}))
            assert absent.code == "VALIDATION" and absent.data == {"path": "/body/params/b"}
            schema = await raises(caller.call("calc.greet", {"name": "far too long"}))
            assert schema.code == "VALIDATION" and schema.data == {"path": "/body/params/name"}
            assert await caller.call("calc.greet", {"name": "ana"}) == "hello ana"

    run(scenario())


def test_the_callers_timeout_is_the_callees_deadline(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        calc, caller = services(topology)
        async with running(calc, caller):
            timeout = await raises(caller.call("calc.slow", 20_000, timeout=0.3))
            assert timeout.code == "TIMEOUT" and timeout.retryable
            # The action's own limit is 30 s: only correio.timeout can have cancelled the handler.
            await asyncio.wait_for(calc.cancelled.wait(), 5)
            assert await caller.call("calc.slow", 10, timeout=2) == 10

    run(scenario())


def test_retries_reuse_the_id_and_are_deduplicated(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        calc, caller = services(topology)
        async with running(calc, caller):
            # A retryable failure is not remembered: the retry (same id) runs again and succeeds.
            assert await caller.call("calc.flaky", retries=2) == {"runs": 2}
            assert len(calc.ids) == 2 and calc.ids[0] == calc.ids[1]
            without_retries = await raises(caller.call("calc.flaky", retries=0))
            assert without_retries.code == "UNAVAILABLE"
            # The same caller, action and id again: answered from memory, the handler ran once.
            first = await caller.client.call("calc.counted", request_id="same-id-1")
            again = await caller.client.call("calc.counted", request_id="same-id-1")
            assert first == again == 1 and calc.runs["counted"] == 1
            assert await caller.client.call("calc.counted", request_id="other-id") == 2

    run(scenario())


def test_the_circuit_opens_after_repeated_failures(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        calc, caller = services(topology, circuit_breaker=CircuitBreakerOptions(threshold=5, window=10, cool_down=0.5))
        async with running(calc, caller):
            for _ in range(5):
                assert (await raises(caller.call("calc.down"))).data is None  # the callee's own failure
            opened = await raises(caller.call("calc.down"))
            assert opened.code == "UNAVAILABLE" and opened.data is not None and opened.data["circuit"] == "open"
            assert calc.runs["down"] == 5  # failed fast, never sent
            assert await caller.call("calc.add", {"a": 1, "b": 1}) == {"sum": 2, "by": calc.instance}  # one circuit per action
            # After the cool-down one trial goes through; it fails, so the circuit opens again.
            assert caller.client.breaker is not None
            circuit = caller.client.breaker.circuit("calc.down")
            await until(lambda: time.monotonic() >= (circuit.retry_at or 0), what="the end of the cool-down")
            trial = await raises(caller.call("calc.down"))
            assert trial.data is None and calc.runs["down"] == 6
            assert (await raises(caller.call("calc.down"))).data["circuit"] == "open"  # type: ignore[index]

    run(scenario())
