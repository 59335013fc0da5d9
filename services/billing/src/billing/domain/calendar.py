"""Business dates in a customer's time zone, billing cycles and measurement periods.

Business dates (due dates, period bounds) are `date`s in the customer's time zone; what the database compares
against the clock is the UTC instant at which that date begins there.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MeasurementPeriod = Literal["month", "quarter"]


def zone(name: str | None, default: str) -> ZoneInfo:
    """The named time zone, or `default` when the name is missing or unknown."""
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz` (a DST gap at midnight resolves forward)."""
    local = datetime.combine(day, time(0), tzinfo=tz)
    # Round-trip through UTC normalises a non-existent local midnight to the first existing instant.
    return local.astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """[start, end): business dates; `last_day` is the inclusive end shown on invoices and in events."""

    start: date
    end: date

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    def starts_at(self, tz: ZoneInfo) -> datetime:
        return start_of_day(self.start, tz)

    def ends_at(self, tz: ZoneInfo) -> datetime:
        return start_of_day(self.end, tz)

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def add_months(anchor: date, months: int) -> date:
    """`anchor` moved by whole months, the day clamped to the month's length (Jan 31 + 1 -> Feb 28/29)."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def billing_cycle(anchor: date, index: int) -> Period:
    """The `index`-th monthly cycle of a subscription that started on `anchor` (cycle 0 starts there).

    Every cycle starts on the anchor's day of the month, clamped to shorter months; a cycle clamped to Feb 28
    is followed by one that starts on the 31st again, not the 28th.
    """
    return Period(add_months(anchor, index), add_months(anchor, index + 1))


def cycle_index(anchor: date, day: date) -> int:
    """The index of the cycle containing `day` (negative before the anchor)."""
    guess = (day.year - anchor.year) * 12 + day.month - anchor.month
    for index in (guess - 1, guess, guess + 1):
        if billing_cycle(anchor, index).contains(day):
            return index
    raise AssertionError("unreachable: consecutive cycles cover every day")


def measurement_period(kind: MeasurementPeriod, day: date) -> Period:
    """The calendar month or quarter containing `day`."""
    months = 1 if kind == "month" else 3
    first_month = day.month if kind == "month" else 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    return Period(start, add_months(start, months))


def months_in(kind: MeasurementPeriod) -> int:
    return 1 if kind == "month" else 3
