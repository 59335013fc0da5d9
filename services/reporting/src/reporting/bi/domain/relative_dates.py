"""Relative date parameters of BI templates and schedules, resolved when an execution is created (at run time
for a schedule), in the schedule's time zone (UTC for a run asked for by hand: templates have no zone).

A value is relative when it is one of:
- `today`, `today-30d`, `today+7d`: a day;
- `last_month`, `month_to_date`, `previous_quarter`, `quarter_to_date`, `last_year`: a period of days, first to
  last inclusive (`month_to_date`: the first of this month to today).
A day stands for the period of that one day. Which end of the period a parameter takes is the report's
(`model.DATE_PARAMS`): `start_day` / `end_day` (dates, both inclusive), `start_at` / `end_at` (timestamps: the
start of the first day, the start of the day after the last, in the zone), `month` / `end_month` (YYYY-MM of
the first / last day).
Values that are not relative are left as they are; parameters that are not dates are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

DateKind = Literal["start_day", "end_day", "start_at", "end_at", "month", "end_month"]

_OFFSET = re.compile(r"^today(?:([+-])(\d{1,5})d)?$")


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period(word: str, today: date) -> tuple[date, date] | None:
    """The first and last day the word names, or None if it is not a relative date."""
    if match := _OFFSET.match(word):
        sign, n = match.groups()
        day = today if n is None else today + (1 if sign == "+" else -1) * timedelta(days=int(n))
        return day, day
    if word == "last_month":
        last = _month_start(today) - timedelta(days=1)
        return _month_start(last), last
    if word == "month_to_date":
        return _month_start(today), today
    if word == "previous_quarter":
        last = _quarter_start(today) - timedelta(days=1)
        return _quarter_start(last), last
    if word == "quarter_to_date":
        return _quarter_start(today), today
    if word == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return None


def resolve(value: Any, kind: DateKind, now: datetime, zone: ZoneInfo) -> Any:
    """The value a relative date stands for, as the report's parameter reads it; other values unchanged."""
    if not isinstance(value, str):
        return value
    found = period(value.strip().lower(), now.astimezone(zone).date())
    if found is None:
        return value
    first, last = found
    if kind == "start_day":
        return first.isoformat()
    if kind == "end_day":
        return last.isoformat()
    if kind == "month":
        return first.strftime("%Y-%m")
    if kind == "end_month":
        return last.strftime("%Y-%m")
    if kind == "start_at":
        return datetime.combine(first, time(), zone).isoformat()
    return datetime.combine(last + timedelta(days=1), time(), zone).isoformat()


def resolve_all(
    parameters: Mapping[str, Any], date_params: Mapping[str, DateKind], now: datetime, zone: ZoneInfo
) -> dict[str, Any]:
    return {
        name: resolve(value, date_params[name], now, zone) if name in date_params else value
        for name, value in parameters.items()
    }
