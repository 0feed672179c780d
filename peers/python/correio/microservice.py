"""A bare dispatcher of ``service.call.request`` on broker service ``svc.<service>``, for an
MdpWorker without a proxy (the interop programs echo_worker and chat_driver use it). Services use
``correio.service`` instead: discovery, events, tasks, deadlines, retries, dedup and graceful drain."""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Mapping, Union

from .errors import CorreioError

#: An action receives ``params`` (None when absent) and the call's ``meta``; returns the result.
Action = Callable[[Any, Mapping[str, str]], Union[Any, Awaitable[Any]]]


def broker_service(action: str) -> str:
    """The broker service of an action: ``svc.`` and the action name up to its last dot."""
    service, dot, _method = action.rpartition(".")
    if not dot or not service:
        raise ValueError(f"an action is <service>.<method>, got {action!r}")
    return f"svc.{service}"


class ActionHandler:
    """An MdpWorker handler that dispatches ``service.call.request`` to the named action."""

    def __init__(self, actions: Mapping[str, Action]) -> None:
        services = {broker_service(name) for name in actions}
        if len(services) != 1:
            raise ValueError(f"one worker serves the actions of one service, got {sorted(services)}")
        self.service = services.pop()
        self.actions = dict(actions)

    async def __call__(self, request: dict[str, Any]) -> Mapping[str, Any]:
        if request["type"] != "service.call.request":
            raise CorreioError("BAD_REQUEST", f"{self.service} serves service.call.request, not {request['type']}")
        body = request["body"]
        action = self.actions.get(body["action"])
        if action is None:
            raise CorreioError("NOT_FOUND", f"{self.service} has no action {body['action']}")
        result = action(body.get("params"), body.get("meta", {}))
        if inspect.isawaitable(result):
            result = await result
        return {} if result is None else {"result": result}
