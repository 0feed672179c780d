"""Names of services, actions and events (the patterns of protocol/schemas/v1/defs.json), and where
each travels: broker service ``svc.<service>``, proxy topics ``svc/<event>/`` and ``announce/<service>/``."""

from __future__ import annotations

import re

from ..errors import CorreioError

_SERVICE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}\Z")
_METHOD = re.compile(r"[a-z][a-zA-Z0-9_]*\Z")
_ACTION = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){0,2}\.[a-z][a-zA-Z0-9_]*\Z")
_EVENT = re.compile(r"[a-z][a-zA-Z0-9_]*(\.[a-z][a-zA-Z0-9_]*){0,7}\Z")
_INSTANCE = re.compile(r"[\x21-\x7e]{1,128}\Z")

#: The proxy namespace of announcements (FRAMES.md 4.1): subscribing to it hears every service.
ANNOUNCE_PREFIX = "announce/"


def check_service_name(name: str) -> str:
    if len(name) > 64 or not _SERVICE.match(name):
        raise ValueError(f'invalid service name {name!r}: use 1 to 3 lower-case dot-separated segments such as "users"')
    return name


def check_instance_id(instance: str) -> str:
    if not _INSTANCE.match(instance):
        raise ValueError(f"an instance id is 1-128 printable ASCII characters, got {instance!r}")
    return instance


def action_name(service: str, method: str) -> str:
    action = f"{service}.{method}"
    if not _METHOD.match(method) or not _ACTION.match(action) or len(action) > 128:
        raise ValueError(f"invalid action name {action!r}: a method name starts with a lower-case letter, then letters, digits or _")
    return action


def check_event_name(event: str) -> str:
    if len(event) > 128 or not _EVENT.match(event):
        raise ValueError(f'invalid event name {event!r}: use 1 to 8 dot-separated segments such as "user.joined"')
    return event


def split_action(action: str) -> tuple[str, str]:
    """``greeter.hello`` -> (``greeter``, ``hello``); BAD_REQUEST when it is no action name."""
    service, dot, method = action.rpartition(".")
    if not dot or not service or not _ACTION.match(action):
        raise CorreioError("BAD_REQUEST", f"invalid action name {action!r}: expected <service>.<method>, such as greeter.hello", data={"action": action})
    return service, method


def broker_service(service: str) -> str:
    """The MDP service that serves a Correio service's actions and emitted events."""
    return f"svc.{service}"


def event_topic(event: str) -> str:
    """The proxy topic of a broadcast; the trailing slash stops ``user`` matching ``user.joined``."""
    return f"svc/{event}/"


def announce_topic(service: str) -> str:
    return f"{ANNOUNCE_PREFIX}{service}/"
