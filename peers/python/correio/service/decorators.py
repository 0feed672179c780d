"""``@action``, ``@task`` and ``@on``: mark methods of a Service subclass; ``handlers_of`` collects them."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar, overload

from .validation import ParamsCheck, compile_check

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__correio_handler__"


@dataclass(frozen=True)
class ActionSpec:
    method: str
    timeout: float | None
    schema: Mapping[str, Any] | None


@dataclass(frozen=True)
class TaskSpec:
    name: str
    every: float | None
    immediate: bool


@dataclass(frozen=True)
class EventSpec:
    event: str


@overload
def action(function: F) -> F: ...
@overload
def action(*, name: str | None = None, timeout: float | None = None, schema: Mapping[str, Any] | None = None) -> Callable[[F], F]: ...
def action(function: Any = None, *, name: str | None = None, timeout: float | None = None, schema: Mapping[str, Any] | None = None) -> Any:
    """An action ``<service>.<method name>``: ``async def hello(self, ctx, params) -> result``.

    ``params`` is checked before the call against ``schema`` (JSON Schema 2020-12), or else against
    the ``params`` parameter's type hint (a TypedDict, or int/str/bool/list/dict): VALIDATION naming
    the field. ``timeout`` (seconds) bounds one invocation (the service's default otherwise).
    """

    def mark(method: F) -> F:
        setattr(method, _MARK, ActionSpec(name or method.__name__, timeout, schema))
        return method

    return mark(function) if function is not None else mark


@overload
def task(function: F) -> F: ...
@overload
def task(*, every: float | None = None, immediate: bool = False, name: str | None = None) -> Callable[[F], F]: ...
def task(function: Any = None, *, every: float | None = None, immediate: bool = False, name: str | None = None) -> Any:
    """A supervised background task: ``async def heartbeat(self, ctx)``. Without ``every`` it runs until
    the service stops (loop until ``ctx.stopping``); with ``every`` (seconds) it runs at that rate,
    first after one period (at once with ``immediate=True``). A failure restarts it after a backoff."""
    if every is not None and every <= 0:
        raise ValueError("@task(every=...) must be positive")

    def mark(method: F) -> F:
        setattr(method, _MARK, TaskSpec(name or method.__name__, every, immediate))
        return method

    return mark(function) if function is not None else mark


def on(event: str) -> Callable[[F], F]:
    """Handles an event, broadcast or emitted: ``async def joined(self, ctx, event)``."""

    def mark(method: F) -> F:
        setattr(method, _MARK, EventSpec(event))
        return method

    return mark


@dataclass(frozen=True)
class Handlers:
    actions: dict[str, tuple[Callable[..., Any], ActionSpec, ParamsCheck | None]]
    tasks: dict[str, tuple[Callable[..., Any], TaskSpec]]
    events: dict[str, Callable[..., Any]]


def handlers_of(owner: object) -> Handlers:
    """The marked methods of ``owner``, bound; each must be a coroutine function."""
    handlers = Handlers({}, {}, {})
    for attribute in dir(type(owner)):
        spec = getattr(getattr(type(owner), attribute, None), _MARK, None)
        if spec is None:
            continue
        bound = getattr(owner, attribute)
        if not inspect.iscoroutinefunction(bound):
            raise TypeError(f"{type(owner).__name__}.{attribute} must be `async def`")
        if isinstance(spec, ActionSpec):
            handlers.actions[spec.method] = (bound, spec, compile_check(bound, spec.schema))
        elif isinstance(spec, TaskSpec):
            handlers.tasks[spec.name] = (bound, spec)
        elif spec.event in handlers.events:
            raise ValueError(f"two handlers for event {spec.event}")
        else:
            handlers.events[spec.event] = bound
    return handlers
