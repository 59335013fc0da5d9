"""What a rule measured: one value per subject, and the calendar arithmetic the kinds share."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TENANT = "tenant"


@dataclass(frozen=True)
class Measurement:
    subject: str
    value: float
    summary: str


def same_day_previous_month(day: date) -> date:
    """The same day of the month before, or that month's last day when it is shorter (March 31 -> Feb 28)."""
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def usage_windows(now: datetime, hours: int) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """The last `hours` whole hours before `now`, and the same hours one week earlier (same weekday)."""
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours)
    week = timedelta(days=7)
    return (start, end), (start - week, end - week)
