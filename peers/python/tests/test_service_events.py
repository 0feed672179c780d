"""correio.service events and discovery over real sockets, against the TypeScript broker and proxy:
emit (one instance per group), broadcast (every instance once, the group filter), the discovery
hooks (up, changed, down announced / expired) and wait_for."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import pytest

from correio import MdpClient, Publisher
from correio.service import Context, CorreioError, Event, InstanceInfo, Service, on

from .services import FAST, Driver, endpoints, running, until

EVENT = "thing.happened"


class Listener(Service):
    def __init__(self, name: str, topology: Any) -> None:
        super().__init__(name=name, **endpoints(topology), **FAST)
        self.heard: list[Event] = []

    @on(EVENT)
    async def happened(self, ctx: Context, event: Event) -> None:
        self.heard.append(event)


def data_of(service: Listener, delivery: str) -> list[Any]:
    return [event.data for event in service.heard if event.delivery == delivery]


def test_emit_reaches_one_instance_per_group(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        first, second, other = Listener("ev", topology), Listener("ev", topology), Listener("ev2", topology)
        emitter = Service(name="emitter", **endpoints(topology), **FAST)
        async with running(first, second, other, emitter):
            await until(lambda: len(emitter.discovery.instances("ev")) == 2 and emitter.discovery.subscribers(EVENT) == ["ev", "ev2"])
            for n in range(4):
                report = await emitter.emit(EVENT, {"n": n})
                assert (report.delivered, report.failed) == (["ev", "ev2"], [])
            assert sorted(data_of(first, "emit") + data_of(second, "emit"), key=str) == [{"n": n} for n in range(4)]
            assert data_of(other, "emit") == [{"n": n} for n in range(4)]
            assert all(event.sender == emitter.instance for event in other.heard)

            # A group that discovery lists but nobody serves: reported failed, the others still delivered.
            publisher = Publisher(topology.proxy_pub)
            try:
                ghost = {"service": "ghost", "version": 1, "instance": "ghost-1", "state": "up", "actions": [], "events": [EVENT], "at": 1}
                for _ in range(200):
                    await publisher.publish("announce/ghost/", "service.announce", [ghost])
                    if "ghost" in emitter.discovery.subscribers(EVENT):
                        break
                    await asyncio.sleep(0.05)
                report = await emitter.emit(EVENT, {"n": 4}, timeout=2)
                assert report.delivered == ["ev", "ev2"] and [group for group, _ in report.failed] == ["ghost"]
                assert report.failed[0][1].code == "UNKNOWN_SERVICE"
            finally:
                publisher.close()

            # The receiver checks what it is sent: another group, or an event it does not handle.
            async with MdpClient(topology.broker, timeout=5, retries=0) as raw:
                for body in ({"event": EVENT, "group": "elsewhere", "sender": "x"}, {"event": "thing.unknown", "group": "ev", "sender": "x"}):
                    with pytest.raises(CorreioError) as refused:
                        await raw.call("svc.ev", "service.emit.request", body)
                    assert refused.value.code == "NOT_FOUND"

    run(scenario())


def test_broadcast_reaches_every_instance_once_and_honours_the_group(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        first, second, other = Listener("bc", topology), Listener("bc", topology), Listener("bc2", topology)
        sender = Service(name="sender", **endpoints(topology), **FAST)
        async with running(first, second, other, sender):
            everyone = (first, second, other)
            await sender.broadcast(EVENT, {"n": 1})
            await sender.broadcast(EVENT, {"n": 2}, group="bc2")
            await sender.broadcast(EVENT, {"n": 3})
            # One publisher's messages arrive in order: once n=3 is everywhere, nothing else is coming.
            await until(lambda: all({"n": 3} in data_of(service, "broadcast") for service in everyone))
            assert data_of(first, "broadcast") == data_of(second, "broadcast") == [{"n": 1}, {"n": 3}]
            assert data_of(other, "broadcast") == [{"n": 1}, {"n": 2}, {"n": 3}]

    run(scenario())


class Recorder:
    """A hooks object: what each hook saw, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    async def on_connect(self, service: Service) -> None:
        self.seen.append(("connect", service.instance))

    def on_service_up(self, info: InstanceInfo) -> None:
        self.seen.append(("up", info.instance))

    def on_service_down(self, info: InstanceInfo, reason: str) -> None:
        self.seen.append(("down", info.instance, reason))

    def on_service_changed(self, info: InstanceInfo, previous: InstanceInfo) -> None:
        self.seen.append(("changed", info.instance, ",".join(previous.actions), ",".join(info.actions)))


def test_discovery_hooks(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        hooks = Recorder()
        watcher = Service(name="watcher", hooks=hooks, **endpoints(topology), **FAST)
        async with running(watcher):
            await until(lambda: ("up", watcher.instance) in hooks.seen)
            assert hooks.seen[0] == ("connect", watcher.instance)  # on_connect first, then itself up

            # Another instance's announcements, published by hand: up, changed, down.
            publisher = Publisher(topology.proxy_pub)
            try:
                async def announce(state: str, actions: list[str], expected: tuple[str, ...]) -> None:
                    """Publishes until the hook saw it: a new publisher's first messages may go before the proxy has its connection."""
                    body = {"service": "fake", "version": 1, "instance": "fake-1", "state": state, "actions": actions, "events": [], "at": 1}
                    for _ in range(200):
                        await publisher.publish("announce/fake/", "service.announce", [body])
                        if expected in hooks.seen:
                            return
                        await asyncio.sleep(0.05)
                    raise AssertionError(f"the hooks never saw {expected}: {hooks.seen}")

                await announce("up", [], ("up", "fake-1"))
                await announce("up", ["fake.run"], ("changed", "fake-1", "", "fake.run"))
                await announce("down", ["fake.run"], ("down", "fake-1", "announced"))
                assert [entry for entry in hooks.seen if "fake-1" in entry] == [("up", "fake-1"), ("changed", "fake-1", "", "fake.run"), ("down", "fake-1", "announced")]
            finally:
                publisher.close()

            # An instance whose process is SIGKILLed goes silent: down, expired.
            driver = Driver(topology, "victim", "--announce-interval", "200")
            try:
                ready = await driver.start()
                await until(lambda: ("up", ready["instance"]) in hooks.seen)
                driver.kill()
                await until(lambda: ("down", ready["instance"], "expired") in hooks.seen, timeout=10)
            finally:
                await driver.close()
        assert hooks.seen[-1] == ("down", watcher.instance, "stopped")

    run(scenario())


def test_wait_for_names_the_missing_services(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        waiter = Service(name="waiter", **endpoints(topology), **FAST)
        async with running(waiter):
            await waiter.wait_for(["waiter"], timeout=1)
            with pytest.raises(CorreioError) as missing:
                await waiter.wait_for(["waiter", "nobody-here", "nor-here"], timeout=0.3)
            assert missing.value.code == "TIMEOUT" and "nobody-here, nor-here" in missing.value.message
            assert missing.value.data is not None and missing.value.data["missing"] == ["nobody-here", "nor-here"]
            late = Service(name="late", **endpoints(topology), **FAST)
            waiting = asyncio.ensure_future(waiter.wait_for(["late"], timeout=10))
            async with running(late):
                await asyncio.wait_for(waiting, 10)

    run(scenario())


class Blocked(Service):
    name = "blocked"

    def __init__(self, topology: Any) -> None:
        super().__init__(**endpoints(topology), **FAST)
        self.gate = asyncio.Event()
        self.handled = 0

    @on("flood.event")
    async def flooded(self, ctx: Context, event: Event) -> None:
        await self.gate.wait()
        self.handled += 1


def test_broadcasts_waiting_for_a_handler_are_bounded(topology: Any, run: Callable[..., Any]) -> None:
    async def scenario() -> None:
        blocked = Blocked(topology)
        flooder = Service(name="flooder", **endpoints(topology), **FAST)
        async with running(blocked, flooder):
            assert flooder._publisher is not None  # connected: it heard its own announcement
            bodies = [{"event": "flood.event", "sender": flooder.instance, "data": n} for n in range(700)]
            for _ in range(2):
                await flooder._publisher.publish("svc/flood.event/", "service.event", bodies)
            # 1,400 broadcasts, the handler stuck on the first: 1,000 wait, the rest are dropped and counted.
            await until(lambda: blocked._events.dropped in (399, 400) and blocked._subscriber is not None)
            blocked.gate.set()
            await until(lambda: blocked.handled == 1400 - blocked._events.dropped)
            assert blocked.state == "running"

    run(scenario())
