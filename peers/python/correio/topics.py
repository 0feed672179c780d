"""Pub/sub topics (FRAMES.md sections 3.3 and 4.1): ``<namespace>/<name>/`` or ``<namespace>/``."""

from __future__ import annotations


def topic(namespace: str, name: str | None = None) -> str:
    """Builds a topic; the name may not contain ``/`` (so prefixes never match a longer name)."""
    if not namespace or "/" in namespace or (name is not None and (not name or "/" in name)):
        raise ValueError(f"invalid topic parts {namespace!r}, {name!r}")
    text = f"{namespace}/" if name is None else f"{namespace}/{name}/"
    if not 2 <= len(text.encode("utf-8")) <= 255:
        raise ValueError(f"a topic is 2-255 bytes, got {text!r}")
    return text


def channel_topic(channel: str) -> str:
    """Where ``chat.publication`` events of ``channel`` are published."""
    return topic("chan", channel)


def user_topic(user: str) -> str:
    """Where ``chat.direct`` events to ``user`` are published."""
    return topic("user", user)
