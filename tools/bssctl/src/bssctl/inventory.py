"""What the registry says exists: topics, their dead-letter twins, services and their consumer groups.

A service's consumer group is named after the service (`ServiceSettings.service_name`); radius-ingest also
reads its own session topic as `radius-ingest-session-tracker`. Group names carry no topic prefix: the
prefix separates deployments by topic, and a group's committed offsets are per (prefixed) topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bss_contracts.topics import ALL_TOPICS, SESSIONS, Service, Topic, dead_letter_name

DLQ_SUFFIX = dead_letter_name("")


class BadInput(Exception):
    """The user named something that does not exist, or asked for something refused: exit 2."""


@dataclass(frozen=True)
class Group:
    name: str
    service: Service
    topics: tuple[Topic, ...]


def service(name: str) -> Service:
    try:
        return Service(name)
    except ValueError:
        known = ", ".join(s.value for s in Service)
        raise BadInput(f"unknown service {name!r} (known: {known})") from None


def groups(of: Service | None = None) -> list[Group]:
    """The consumer groups of every service (or of one), with the registry topics each consumes."""
    found = []
    for svc in Service:
        consumed = tuple(t for t in ALL_TOPICS if svc in t.consumers)
        if consumed:
            found.append(Group(svc.value, svc, consumed))
        if svc is Service.RADIUS_INGEST:
            found.append(Group(f"{svc.value}-session-tracker", svc, (SESSIONS,)))
    return [g for g in found if of is None or g.service is of]


def group(name: str) -> Group:
    for g in groups():
        if g.name == name:
            return g
    known = ", ".join(g.name for g in groups())
    raise BadInput(f"unknown consumer group {name!r} (known: {known})")


def topic_name(name: str) -> str:
    """A registry topic name or its dead-letter twin, checked; the prefix is added by the caller."""
    base = name.removesuffix(DLQ_SUFFIX)
    if any(t.name == base for t in ALL_TOPICS):
        return name
    known = ", ".join(t.name for t in ALL_TOPICS)
    raise BadInput(f"unknown topic {name!r} (known: {known}, each also with {DLQ_SUFFIX})")


_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since(value: str, *, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `7d`, `30s`, `1w` ago, or an ISO 8601 time (UTC if it has no offset)."""
    now = now or datetime.now(UTC)
    if match := _DURATION.match(value.strip()):
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"bad time {value!r}: give a duration like 10m, 2h, 7d or an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
