"""A service's actions (as libs/service/src/ActionTable.ts): serves ``service.call.request``:
the action's service must be ours (else BAD_REQUEST), an unknown action is NOT_FOUND; then, in this
order, deduplication of retries, the params check, the timeout (the action's, cut short by the
caller's ``correio.timeout``; the handler is cancelled when it expires) and the handler."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Mapping

from ..errors import CorreioError
from .decorators import ActionSpec
from .dedup import Deduplicator
from .meta import application_meta, caller_timeout
from .names import action_name, split_action
from .validation import ParamsCheck

log = logging.getLogger(__name__)

class _Nil:
    """The type of NIL."""

    def __repr__(self) -> str:
        return "NIL"


#: What an action returns for a nil result: returning None means "no result" (the key is absent).
NIL = _Nil()

#: Builds an action's context: (action, request envelope, application meta, deadline).
ContextFactory = Callable[[str, Mapping[str, Any], dict[str, str], "float | None"], Any]


class ActionTable:
    def __init__(
        self,
        service: str,
        actions: Mapping[str, tuple[Callable[..., Any], ActionSpec, ParamsCheck | None]],
        *,
        timeout: float,
        deduplicator: Deduplicator | None,
    ) -> None:
        self.service = service
        self._timeout = timeout
        self._dedup = deduplicator
        self._actions = {action_name(service, method): entry for method, entry in actions.items()}

    @property
    def names(self) -> list[str]:
        return sorted(self._actions)

    async def invoke(self, request: Mapping[str, Any], context: ContextFactory) -> dict[str, Any]:
        """The reply body of one ``service.call.request``."""
        body = request["body"]
        name = body["action"]
        service, _ = split_action(name)
        if service != self.service:
            raise CorreioError("BAD_REQUEST", f"{name} belongs to service {service}, but this is {self.service}", data={"action": name})
        entry = self._actions.get(name)
        if entry is None:
            raise CorreioError("NOT_FOUND", f"{self.service} has no action {name}", data={"action": name, "actions": self.names})
        handler, spec, check = entry
        meta = body.get("meta")
        limit = spec.timeout if spec.timeout is not None else self._timeout
        loop = asyncio.get_running_loop()
        waited = caller_timeout(meta)
        deadline = None if waited is None else loop.time() + waited
        if waited is not None:
            limit = min(limit, waited)
        ctx = context(name, request, application_meta(meta), deadline)
        ctx.has_params = "params" in body
        params = body.get("params")

        async def run() -> Any:
            if check is not None:
                check(params)
            try:
                return await asyncio.wait_for(handler(ctx, params), limit)
            except asyncio.TimeoutError:
                raise CorreioError("TIMEOUT", f"{name} did not finish within {round(limit * 1000)}ms", data={"action": name, "timeout": round(limit * 1000)}) from None

        if self._dedup is None:
            result = await run()
        else:
            result = await self._dedup.run((request["from"], name, request["id"]), run)
        if result is None:
            return {}
        return {"result": None if result is NIL else result}
