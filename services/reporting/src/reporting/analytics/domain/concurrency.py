"""Concurrent sessions: how many were online at each instant, the peak of each hour and when it occurred.

A session counts from its start until its stop. A session with no stop counts until its last accounting record plus
`STALE_AFTER`: a NAS sends Interim-Updates every few minutes (Acct-Interim-Interval, typically 5 to 15), so a session
silent for an hour has lost its Stop, and must not hold the peak up for ever. When its next record arrives, its end
moves on again. The interval is half-open, [start, end): a stop and a start at the same instant do not overlap.

The level is kept as changes (+1 at a start, -1 at an end, summed per instant) and, per hour, as the hour's net
change and its peak above the level the hour began with. A session's interval moving only rewrites the changes
it moved, and the hours they fall in. The level at any instant is the sum of every change up to it; the read side
adds the nets of whole months, days and hours before it (`bucket_starts_before`), so that is a few rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal, NamedTuple

STALE_AFTER = timedelta(hours=1)
ALL_NAS = ""  # the nas_id under which the tenant-wide level is kept
HOUR = timedelta(hours=1)
Grain = Literal["month", "day", "hour"]
GRAINS: tuple[Grain, ...] = ("month", "day", "hour")


class SessionSpan(NamedTuple):
    nas_id: str
    start: datetime
    end: datetime


def session_interval(
    nas_id: str, start: datetime, stop: datetime | None, last_record: datetime, stale_after: timedelta = STALE_AFTER
) -> SessionSpan:
    """The time a session counts as online (see the module's rules)."""
    end = stop if stop is not None else last_record + stale_after
    return SessionSpan(nas_id, start, max(start, end))


ChangeKey = tuple[str, str, datetime]  # tenant, nas_id (ALL_NAS: the tenant), instant


def level_changes(moves: Iterable[tuple[str, SessionSpan | None, SessionSpan | None]]) -> dict[ChangeKey, int]:
    """The net change of the level at each instant when sessions' intervals move from `before` to `after` (None:
    not counted), for the session's NAS and for the whole tenant. Instants whose changes cancel are left out."""
    changes: dict[ChangeKey, int] = defaultdict(int)
    for tenant, before, after in moves:
        for interval, sign in ((before, -1), (after, 1)):
            if interval is None or interval.start == interval.end:
                continue
            for nas in (interval.nas_id, ALL_NAS):
                changes[(tenant, nas, interval.start)] += sign
                changes[(tenant, nas, interval.end)] -= sign
    return {key: n for key, n in changes.items() if n}


def bucket_start(moment: datetime, grain: Grain) -> datetime:
    moment = moment.astimezone(UTC)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if grain == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class HourLevel(NamedTuple):
    """One hour of one level: its net change, and its highest level above the level it began with (reached
    first at `peak_at`). The level it began with holds at the hour's start unless a change falls exactly there."""

    net: int
    peak: int
    peak_at: datetime


def summarize_hour(hour: datetime, changes: Sequence[tuple[datetime, int]]) -> HourLevel:
    """`changes`: (instant, net change) within [hour, hour + 1 h), any order, one per instant."""
    ordered = sorted(changes)
    level = 0
    peak, peak_at = (None, hour) if ordered and ordered[0][0] == hour else (0, hour)
    for at, change in ordered:
        level += change
        if peak is None or level > peak:
            peak, peak_at = level, at
    return HourLevel(level, peak if peak is not None else 0, peak_at)


@dataclass(frozen=True)
class Peak:
    period_start: datetime
    peak: int
    at: datetime  # the first instant of the period at that level


def hourly_peaks(start_level: int, first_hour: datetime, hours: int, kept: dict[datetime, HourLevel]) -> list[Peak]:
    """The peak of each of `hours` hours from `first_hour`, given the level just before it and the hours that
    have changes (`kept`; an hour without one stays at the level it began with)."""
    peaks = []
    level = start_level
    for i in range(hours):
        hour = first_hour + i * HOUR
        summary = kept.get(hour)
        if summary is None:
            peaks.append(Peak(hour, level, hour))
            continue
        peaks.append(Peak(hour, level + summary.peak, summary.peak_at))
        level += summary.net
    return peaks


def daily_peaks(hourly: Sequence[Peak], zone: tzinfo) -> list[Peak]:
    """The peak of each day (in `zone`) from hourly peaks: the highest hour, the earliest of equal ones. A day
    across a DST change has 23 or 25 hours; it is made of the hours that start on that date there."""
    days: dict[date, Peak] = {}
    for hour in hourly:
        day = hour.period_start.astimezone(zone).date()
        best = days.get(day)
        if best is None:
            days[day] = Peak(hour.period_start, hour.peak, hour.at)
        elif hour.peak > best.peak:
            days[day] = Peak(best.period_start, hour.peak, hour.at)
    return list(days.values())
