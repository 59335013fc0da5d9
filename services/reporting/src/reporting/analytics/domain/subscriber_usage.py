"""One subscriber's (or customer's) usage over a period: totals, a daily breakdown and the peak hour.

A session's bytes and seconds count on the day and hour of its latest record (its stop, else its last update),
as in the sessions report and its rollups. Days and hours are the customer's (its time zone).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal, NamedTuple

Period = Literal["day", "week", "month", "quarter"]


def period_bounds(period: Period, today: date) -> tuple[date, date]:
    """The current day, ISO week, month or quarter up to `today` (inclusive bounds)."""
    if period == "day":
        return today, today
    if period == "week":
        return today - timedelta(days=today.weekday()), today
    if period == "month":
        return today.replace(day=1), today
    return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), today


class HourUsage(NamedTuple):
    day: date
    hour: int  # 0-23, local
    sessions: int
    input_octets: int
    output_octets: int
    session_time_seconds: int


@dataclass
class DayUsage:
    day: date
    sessions: int = 0
    input_octets: int = 0
    output_octets: int = 0
    session_time_seconds: int = 0

    def add(self, sessions: int, octets_in: int, octets_out: int, seconds: int) -> None:
        self.sessions += sessions
        self.input_octets += octets_in
        self.output_octets += octets_out
        self.session_time_seconds += seconds


@dataclass
class UsageSummary:
    total: DayUsage
    daily: list[DayUsage] = field(default_factory=list)
    peak_hour: int | None = None  # the hour of the day with the most bytes over the period (earliest of equals)

    @property
    def average_session_seconds(self) -> int | None:
        return None if not self.total.sessions else round(self.total.session_time_seconds / self.total.sessions)


def summarize(first: date, last: date, hours: Iterable[HourUsage]) -> UsageSummary:
    """Totals, every day from `first` to `last` (days without sessions at zero), and the peak hour."""
    days = {first + timedelta(days=i): DayUsage(first + timedelta(days=i)) for i in range((last - first).days + 1)}
    total = DayUsage(first)
    by_hour = [0] * 24
    for h in hours:
        figures = (h.sessions, h.input_octets, h.output_octets, h.session_time_seconds)
        days[h.day].add(*figures)
        total.add(*figures)
        by_hour[h.hour] += h.input_octets + h.output_octets
    peak = max(range(24), key=lambda hour: (by_hour[hour], -hour)) if total.sessions else None
    return UsageSummary(total, list(days.values()), peak)
