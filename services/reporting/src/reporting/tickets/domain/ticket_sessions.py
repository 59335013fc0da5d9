"""A ticket's lines and their sessions, pure: which sessions are open now, which are recent, and the window's sums.

- **Open now**: online by the rule "online now" uses (`analytics/domain/concurrency.py`): from its start until its
  stop, or, with no stop, until its last accounting record plus `STALE_AFTER`; half-open, so a session whose last
  record is exactly `STALE_AFTER` old is no longer open. A session closed by a NAS reset has a stop.
- **Recent**: the sessions that started at or after `now - days`, newest start first, at most `limit` of them;
  the window's sums (sessions, bytes in and out, seconds) cover every one of them, not only those listed.
  A session still open counts with its bytes so far.
- A line is the ticket's subscriber as the read model knows it: its username, if a subscriber event told it.
  Sessions are a username's, as in `sessions/history?subscriber_id=`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reporting.analytics.domain.concurrency import STALE_AFTER, session_interval

DEFAULT_DAYS = 7
MAX_DAYS = 90
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def window_start(now: datetime, days: int) -> datetime:
    """The earliest start of a recent session."""
    return now - timedelta(days=days)


def online_cutoff(now: datetime) -> datetime:
    """An open session whose last record is at or before this is stale, no longer online."""
    return now - STALE_AFTER


def is_open(start: datetime, stop: datetime | None, last_record: datetime, now: datetime) -> bool:
    """Whether the session is online at `now` (the rule of online now: `session_interval`)."""
    span = session_interval("", start, stop, last_record)
    return span.start <= now < span.end


@dataclass(frozen=True)
class WindowTotals:
    sessions: int = 0
    input_octets: int = 0
    output_octets: int = 0
    session_time_seconds: int = 0


@dataclass(frozen=True)
class Line:
    """One affected subscriber: its username (None: not known here), open sessions, recent sessions, sums."""

    subscriber_id: str
    username: str | None
    open: list[Any] = field(default_factory=list)
    recent: list[Any] = field(default_factory=list)
    totals: WindowTotals = WindowTotals()


def lines(
    subscriber_ids: Sequence[str],
    usernames: Mapping[str, str | None],
    open_by_username: Mapping[str, Sequence[Any]],
    recent_by_username: Mapping[str, Sequence[Any]],
    totals_by_username: Mapping[str, WindowTotals],
) -> list[Line]:
    """The ticket's lines in the ticket's order (each subscriber once), with what was read for their usernames."""
    out: list[Line] = []
    seen: set[str] = set()
    for subscriber_id in subscriber_ids:
        if subscriber_id in seen:
            continue
        seen.add(subscriber_id)
        username = usernames.get(subscriber_id)
        if username is None:
            out.append(Line(subscriber_id, None))
            continue
        out.append(
            Line(
                subscriber_id,
                username,
                list(open_by_username.get(username, ())),
                list(recent_by_username.get(username, ())),
                totals_by_username.get(username, WindowTotals()),
            )
        )
    return out
