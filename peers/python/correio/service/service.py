"""One running instance of a Correio microservice (as libs/service/src/Service.ts).

Its actions are served as MDP workers of ``svc.<name>`` through the broker, its events arrive
through the broker (emit: one instance per group) and the proxy (broadcast: every instance), its
tasks run under supervision, and it announces itself so peers can find it. ``await service.start()``
returns once the broker lists ``svc.<name>`` and the instance heard its own announcement;
``await service.stop()`` drains; ``await service.run()`` starts, waits for SIGTERM/SIGINT (or
``request_stop()``) and drains.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Literal, Mapping, Sequence

import zmq.asyncio

from ..envelope import Stamp
from ..errors import CorreioError
from ..publisher import Publisher
from ..sequence import Gap
from ..subscriber import Publication, Subscriber
from ..worker import MdpWorker
from .actions import ActionTable
from .backoff import Backoff
from .circuit import CircuitBreakerOptions
from .client import NO_PARAMS, ServiceClient
from .context import ActionContext, Context, TaskContext
from .decorators import handlers_of
from .dedup import Deduplicator
from .discovery import AnnounceDiscovery
from .events import EventRouter
from .hooks import HookQueue
from .logs import ServiceLog
from .names import ANNOUNCE_PREFIX, broker_service, check_event_name, check_instance_id, check_service_name, event_topic
from .peers import Change, Changed, Down, InstanceInfo, Up
from .tasks import TaskSupervisor

State = Literal["created", "starting", "running", "stopping", "stopped"]

#: The hook names, looked up on the hooks object (or on the service itself).
HOOKS = ("on_connect", "on_service_up", "on_service_down", "on_service_changed")


@dataclass(frozen=True)
class _Settings:
    concurrency: int
    call_timeout: float
    call_retries: int
    backoff: Backoff
    circuit_breaker: CircuitBreakerOptions | None
    announce_interval: float
    liveness: int
    heartbeat: float
    drain_timeout: float
    task_grace: float
    start_timeout: float


@dataclass(frozen=True)
class EmitReport:
    """Which groups handled an emitted event, and which failed (with the error)."""

    event: str
    delivered: list[str] = field(default_factory=list)
    failed: list[tuple[str, CorreioError]] = field(default_factory=list)


class Service:
    """Subclass it, set ``name``, and mark methods with ``@action``, ``@task`` and ``@on``.

    Hooks are methods of the subclass: ``on_connect()``, ``on_service_up(info)``,
    ``on_service_down(info, reason)``, ``on_service_changed(info, previous)``; or of a ``hooks``
    object (whose ``on_connect`` receives the service), sync or async. They run one at a time in
    order, ``on_connect`` first (once start() has finished). Durations are in seconds.
    """

    #: The service name (the ``greeter`` of ``greeter.hello``) and version: set them on the subclass.
    name: str = ""
    version: int = 1

    def __init__(
        self,
        *,
        broker: str,
        proxy_pub: str,
        proxy_sub: str,
        name: str | None = None,
        version: int | None = None,
        instance: str | None = None,
        concurrency: int = 4,
        timeout: float = 30.0,
        call_timeout: float = 5.0,
        call_retries: int = 0,
        backoff: Backoff = Backoff(initial=0.1, maximum=5.0),
        circuit_breaker: CircuitBreakerOptions | None = None,
        deduplicate: bool = True,
        announce_interval: float = 2.0,
        liveness: int = 3,
        heartbeat: float = 2.5,
        drain_timeout: float = 5.0,
        task_grace: float = 2.0,
        start_timeout: float = 30.0,
        hooks: object | None = None,
        context: zmq.asyncio.Context | None = None,
    ) -> None:
        self.name = check_service_name(name or type(self).name)
        self.version = type(self).version if version is None else version
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 0:
            raise ValueError("version must be a non-negative integer")
        self.instance = check_instance_id(instance or f"{self.name}-{os.getpid()}-{secrets.token_hex(3)}")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.broker, self.proxy_pub, self.proxy_sub = broker, proxy_pub, proxy_sub
        self.log = ServiceLog(logging.getLogger(f"correio.service.{self.name}"), {"service": self.name, "instance": self.instance})
        self.state: State = "created"
        self._settings = _Settings(
            concurrency=concurrency, call_timeout=call_timeout, call_retries=call_retries, backoff=backoff, circuit_breaker=circuit_breaker,
            announce_interval=announce_interval, liveness=liveness, heartbeat=heartbeat, drain_timeout=drain_timeout,
            task_grace=task_grace, start_timeout=start_timeout,
        )
        self._hook_target = hooks if hooks is not None else self
        self._zmq = context if context is not None else zmq.asyncio.Context.instance()
        handlers = handlers_of(self)
        self._actions = ActionTable(self.name, handlers.actions, timeout=timeout, deduplicator=Deduplicator() if deduplicate else None)
        self._events = EventRouter(self.name, self.instance, handlers.events)
        self._task_specs = handlers.tasks
        self._tasks: list[TaskSupervisor] = []
        self._hooks = HookQueue()
        self._stamp = Stamp(self.instance)
        self._client: ServiceClient | None = None
        self._publisher: Publisher | None = None
        self._subscriber: Subscriber | None = None
        self._worker: MdpWorker | None = None
        self._discovery: AnnounceDiscovery | None = None
        self._receiving: asyncio.Task[None] | None = None
        self._connected: asyncio.Future[bool] | None = None
        self._stop_requested: asyncio.Event | None = None
        self._start_done: asyncio.Event | None = None
        self._stopping: asyncio.Task[None] | None = None
        #: Requests being served now; publications lost on the proxy; failures contained.
        self.in_flight = 0
        self.missed = 0
        self.contained = 0

    # -- hooks: override in a subclass (or pass a hooks object) --------------------------------

    async def on_connect(self) -> None: ...
    async def on_service_up(self, info: InstanceInfo) -> None: ...
    async def on_service_down(self, info: InstanceInfo, reason: str) -> None: ...
    async def on_service_changed(self, info: InstanceInfo, previous: InstanceInfo) -> None: ...

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def actions(self) -> list[str]:
        return self._actions.names

    @property
    def events(self) -> list[str]:
        return self._events.names

    @property
    def discovery(self) -> AnnounceDiscovery:
        if self._discovery is None:
            raise CorreioError("UNAVAILABLE", f"service {self.name} is not started")
        return self._discovery

    @property
    def client(self) -> ServiceClient:
        if self._client is None:
            raise CorreioError("UNAVAILABLE", f"service {self.name} is not started")
        return self._client

    async def start(self) -> "Service":
        """Connects, registers ``svc.<name>``, subscribes, announces; UNAVAILABLE after start_timeout."""
        if self.state != "created":
            raise RuntimeError(f"service {self.name} cannot start: it is {self.state}")
        self.state = "starting"
        self._stop_requested = asyncio.Event()
        self._start_done = asyncio.Event()
        try:
            await self._start()
        except BaseException:
            self.log.error("start failed", exc_info=True)
            await self._shutdown()
            self.state = "stopped"
            raise
        finally:
            self._start_done.set()
        self.state = "running"
        assert self._connected is not None
        self._connected.set_result(True)
        for supervisor in self._tasks:
            supervisor.start()
        self.log.info("service started", extra={"actions": self.actions, "events": self.events, "tasks": sorted(self._task_specs)})
        return self

    async def _start(self) -> None:
        options = self._settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + options.start_timeout
        self._connected = loop.create_future()
        self._hooks.start()
        self._hooks.push("on_connect", self._run_on_connect)
        self._client = ServiceClient(self.broker, stamp=self._stamp, timeout=options.call_timeout, retries=options.call_retries,
                                     backoff=options.backoff, circuit_breaker=options.circuit_breaker, context=self._zmq)
        self._client.connect()
        self._publisher = Publisher(self.proxy_pub, stamp=self._stamp, context=self._zmq)
        self._subscriber = Subscriber(self.proxy_sub, context=self._zmq)
        for event in self.events:
            self._subscriber.subscribe(event_topic(event))
        # After the event topics: subscriptions travel in order, so hearing our own announcement
        # proves the event subscriptions reached the proxy too.
        self._subscriber.subscribe(ANNOUNCE_PREFIX)
        self._events.start()
        self._receiving = loop.create_task(self._receive(self._subscriber))
        self._discovery = AnnounceDiscovery(
            self._publisher, service=self.name, version=self.version, instance=self.instance, actions=self.actions, events=self.events,
            interval=options.announce_interval, liveness=options.liveness, on_change=self._on_change,
        )
        self._tasks = [
            TaskSupervisor(task_name, handler, self._task_context(task_name), every=spec.every, immediate=spec.immediate)
            for task_name, (handler, spec) in sorted(self._task_specs.items())
        ]
        waits: list[Awaitable[None]] = [self._discovery.start(timeout=max(0.0, deadline - loop.time()))]
        if self.actions or self.events:
            self._worker = MdpWorker(self.broker, broker_service(self.name), self._serve, stamp=self._stamp,
                                     heartbeat=options.heartbeat, concurrency=options.concurrency, context=self._zmq)
            self._worker.start()
            waits.append(self._await_registration(deadline))
        await asyncio.gather(*waits)

    async def _await_registration(self, deadline: float) -> None:
        """Polls the broker's MMI until it lists ``svc.<name>``: our READY has arrived."""
        loop = asyncio.get_running_loop()
        service = broker_service(self.name)
        attempt = 0
        while loop.time() < deadline:
            try:
                if await self.client.service_exists(service, timeout=max(0.001, min(1.0, deadline - loop.time()))):
                    return
            except CorreioError:
                pass
            await asyncio.sleep(min(0.05 * 2 ** min(attempt, 4), max(0.0, deadline - loop.time())))
            attempt += 1
        raise CorreioError("UNAVAILABLE", f"the broker at {self.broker} did not register {service} in time", data={"broker": self.broker, "service": service})

    def request_stop(self) -> None:
        """Asks ``run()`` to drain and return (what SIGTERM does)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def run(self) -> None:
        """Starts, then ``serve()``: what a service's main does."""
        await self.start()
        await self.serve()

    async def serve(self) -> None:
        """Once started: waits for SIGTERM/SIGINT or request_stop(), then drains and stops."""
        loop = asyncio.get_running_loop()
        if self._stop_requested is None:
            raise RuntimeError(f"service {self.name} is not started")
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self._stop_requested.set)
        try:
            await self._stop_requested.wait()
        finally:
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(number)
            await self.stop()

    async def stop(self) -> None:
        """Graceful stop, idempotent: stop taking requests, let in-flight ones finish (drain_timeout,
        then cancelled), cancel tasks (task_grace), announce ``down``, close every socket."""
        if self.state == "created":
            self.state = "stopped"
            return
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_task(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self._start_done is not None:
            await self._start_done.wait()  # start() always ends (by start_timeout), cleaning up after a failure
        if self.state == "stopped":
            return
        self.state = "stopping"
        self.request_stop()
        self.log.info("service stopping")
        await self._shutdown()
        self.state = "stopped"
        self.log.info("service stopped")

    async def _shutdown(self) -> None:
        """Tears down whatever exists, in the order of a graceful stop. Never raises."""
        options = self._settings
        drain = options.drain_timeout

        async def step(what: str, run: Callable[[], Awaitable[Any]]) -> None:
            try:
                await run()
            except Exception:  # noqa: BLE001 - one failed step never stops the rest of the shutdown
                self.log.warning("stop: %s failed", what, exc_info=True)

        if self._worker is not None:
            worker = self._worker
            await step("drain requests", lambda: worker.drain(drain))
        await step("stop tasks", lambda: asyncio.gather(*(task.stop(options.task_grace) for task in self._tasks)))
        if self._discovery is not None:
            await step("announce down", self._discovery.stop)
        await step("drain broadcasts", lambda: self._events.idle(drain))
        if self._connected is not None and not self._connected.done():
            self._connected.set_result(False)
        if self._receiving is not None:
            self._receiving.cancel()
            await asyncio.gather(self._receiving, return_exceptions=True)
        if self._subscriber is not None:
            self._subscriber.close()
        if self._publisher is not None:
            self._publisher.close(linger=500)  # lets the `down` announcement leave
        if self._client is not None:
            await step("close client", self._client.close)
        await step("hooks", lambda: self._hooks.idle(drain))

    # -- calls and events ----------------------------------------------------------------------

    async def wait_for(self, services: Sequence[str], timeout: float = 30.0) -> None:
        """Returns once every named service has a live instance; TIMEOUT naming the missing ones."""
        await self.discovery.wait_for(services, timeout)

    async def call(self, action: str, params: Any = NO_PARAMS, *, timeout: float | None = None, retries: int | None = None, meta: Mapping[str, str] | None = None) -> Any:
        """Calls an action; its result, or CorreioError with the callee's code, message, retryable and data."""
        return await self.client.call(action, params, timeout=timeout, retries=retries, meta=meta)

    async def emit(self, event: str, data: Any = None, *, timeout: float | None = None, retries: int | None = None) -> EmitReport:
        """Delivers the event to ONE instance of each service whose instances handle it."""
        check_event_name(event)
        groups = self.discovery.subscribers(event)
        outcomes = await asyncio.gather(*(self._emit_to(group, event, data, timeout, retries) for group in groups), return_exceptions=True)
        report = EmitReport(event)
        for group, outcome in zip(groups, outcomes):
            if isinstance(outcome, BaseException):
                error = CorreioError.wrap(outcome)
                report.failed.append((group, error))
                self.log.warning("emit %s to %s failed: %s", event, group, error)
            else:
                report.delivered.append(group)
        return report

    async def _emit_to(self, group: str, event: str, data: Any, timeout: float | None, retries: int | None) -> None:
        body: dict[str, Any] = {"event": event, "group": group, "sender": self.instance}
        if data is not None:
            body["data"] = data
        await self.client.request(broker_service(group), "service.emit.request", body, timeout=timeout, retries=retries)

    async def broadcast(self, event: str, data: Any = None, *, group: str | None = None) -> None:
        """Publishes the event to every instance that handles it (only ``group``'s, when given)."""
        check_event_name(event)
        if self._publisher is None or self.state in ("created", "stopped"):
            raise CorreioError("UNAVAILABLE", f"service {self.name} is not running")
        body: dict[str, Any] = {"event": event, "sender": self.instance}
        if data is not None:
            body["data"] = data
        if group is not None:
            body["group"] = check_service_name(group)
        await self._publisher.publish(event_topic(event), "service.event", [body])

    # -- inside ---------------------------------------------------------------------------------

    async def _serve(self, request: dict[str, Any]) -> Mapping[str, Any]:
        """The worker's handler: one ``service.call.request`` or ``service.emit.request``."""
        self.in_flight += 1
        try:
            if request["type"] == "service.call.request":
                return await self._actions.invoke(request, self._action_context)
            if request["type"] == "service.emit.request":
                return await self._events.handle_emit(request, Context(self, self.log))
            raise CorreioError("BAD_REQUEST", f"{broker_service(self.name)} serves service.call.request and service.emit.request, not {request['type']}",
                               data={"type": request["type"]})
        finally:
            self.in_flight -= 1

    def _action_context(self, action: str, request: Mapping[str, Any], meta: dict[str, str], deadline: float | None) -> ActionContext:
        return ActionContext(self, self.log, meta, deadline, action=action, id=request["id"], caller=request["from"], lc=request["lc"])

    def _task_context(self, task: str) -> Callable[[asyncio.Event, int], TaskContext]:
        return lambda stopping, run: TaskContext(self, self.log, task=task, run=run, stopping=stopping)

    async def _receive(self, subscriber: Subscriber) -> None:
        while True:
            try:
                delivery = await subscriber.receive()
            except (zmq.ZMQError, CorreioError) as error:
                self.log.warning("subscriber failed: %s", error)
                await asyncio.sleep(0.1)
                continue
            try:
                self._dispatch(delivery)
            except Exception:  # noqa: BLE001 - one publication must not end the loop
                self.contained += 1
                self.log.exception("a publication could not be handled")

    def _dispatch(self, delivery: Publication | Gap) -> None:
        if isinstance(delivery, Gap):
            self.missed += delivery.count
            self.log.warning("publications lost on %s from %s: %d", delivery.topic, delivery.publisher, delivery.count)
            return
        envelope = delivery.envelope
        self._stamp.observe(envelope)
        if envelope["type"] == "service.event" and delivery.topic.startswith("svc/"):
            self._events.handle_broadcast(envelope, Context(self, self.log))
        elif envelope["type"] == "service.announce" and delivery.topic.startswith(ANNOUNCE_PREFIX) and self._discovery is not None:
            self._discovery.receive(envelope["body"])
        else:
            self.log.debug("ignored a %s on %s", envelope["type"], delivery.topic)

    async def _run_on_connect(self) -> None:
        assert self._connected is not None
        if await self._connected:
            hook = getattr(self._hook_target, "on_connect", None)
            if hook is not None:
                await _maybe_await(hook() if self._hook_target is self else hook(self))

    def _on_change(self, change: Change) -> None:
        if isinstance(change, Up):
            self._push_hook("on_service_up", change.info)
        elif isinstance(change, Down):
            self._push_hook("on_service_down", change.info, change.reason)
        elif isinstance(change, Changed):
            self._push_hook("on_service_changed", change.info, change.previous)

    def _push_hook(self, name: str, *args: Any) -> None:
        hook = getattr(self._hook_target, name, None)
        if hook is not None:
            self._hooks.push(name, lambda: _maybe_await(hook(*args)))


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        await value
