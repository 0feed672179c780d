"""The pure core of announce-based discovery (as libs/service/src/discovery/PeerTable.ts): applies
announcements and expiry and says what changed. Time is passed in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal, Mapping, Union

DownReason = Literal["announced", "expired", "stopped"]


@dataclass(frozen=True)
class InstanceInfo:
    """A live instance of a service, as its announcements describe it."""

    service: str
    version: int
    instance: str
    actions: tuple[str, ...]
    events: tuple[str, ...]
    first_seen: float
    last_seen: float

    def same_offer(self, other: "InstanceInfo") -> bool:
        return (self.service, self.version, self.actions, self.events) == (other.service, other.version, other.actions, other.events)


@dataclass(frozen=True)
class Up:
    info: InstanceInfo


@dataclass(frozen=True)
class Down:
    info: InstanceInfo
    reason: DownReason


@dataclass(frozen=True)
class Changed:
    info: InstanceInfo
    previous: InstanceInfo


Change = Union[Up, Down, Changed]


class PeerTable:
    """Live instances; an instance silent for longer than ``ttl`` seconds is down. At most
    ``max_instances`` are held: anyone can publish announcements, so a new one is ignored when full."""

    def __init__(self, ttl: float, max_instances: int = 10_000) -> None:
        self.ttl = ttl
        self.max_instances = max_instances
        self._peers: dict[str, InstanceInfo] = {}

    def apply(self, announcement: Mapping[str, Any], now: float) -> list[Change]:
        instance = announcement["instance"]
        known = self._peers.get(instance)
        if announcement["state"] == "down":
            if known is None:
                return []
            del self._peers[instance]
            return [Down(replace(known, last_seen=now), "announced")]
        if known is None and len(self._peers) >= self.max_instances:
            return []
        info = InstanceInfo(
            service=announcement["service"],
            version=announcement["version"],
            instance=instance,
            actions=tuple(sorted(announcement["actions"])),
            events=tuple(sorted(announcement["events"])),
            first_seen=known.first_seen if known is not None else now,
            last_seen=now,
        )
        self._peers[instance] = info
        if known is None:
            return [Up(info)]
        return [] if known.same_offer(info) else [Changed(info, known)]

    def expire(self, now: float) -> list[Change]:
        gone = [info for info in self._peers.values() if now - info.last_seen > self.ttl]
        for info in gone:
            del self._peers[info.instance]
        return [Down(info, "expired") for info in gone]

    def clear(self, own: str, now: float) -> list[Change]:
        """Forgets everyone when this instance stops; only itself is reported (``stopped``)."""
        info = self._peers.get(own)
        self._peers.clear()
        return [Down(replace(info, last_seen=now), "stopped")] if info is not None else []

    def has(self, instance: str) -> bool:
        return instance in self._peers

    def instances(self, service: str | None = None) -> list[InstanceInfo]:
        found = [info for info in self._peers.values() if service is None or info.service == service]
        return sorted(found, key=lambda info: (info.service, info.instance))

    def subscribers(self, event: str) -> list[str]:
        return sorted({info.service for info in self._peers.values() if event in info.events})

    def is_up(self, service: str) -> bool:
        return any(info.service == service for info in self._peers.values())
