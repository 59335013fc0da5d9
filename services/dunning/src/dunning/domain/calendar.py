"""Excluded days: no suspension or termination on configured weekdays and holidays, in local time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.domain.campaigns import WEEKDAYS, ExclusionRules

_MAX_LOOKAHEAD_DAYS = 400  # a year of holidays plus excluded weekdays cannot push further than this


def is_excluded_day(rules: ExclusionRules, day: date) -> bool:
    return WEEKDAYS[day.weekday()] in rules.no_suspension_weekdays or day in rules.holidays


def next_allowed(rules: ExclusionRules, moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` if its local day is allowed, else the start (00:00 local) of the next allowed day."""
    day = moment.astimezone(zone).date()
    if not is_excluded_day(rules, day):
        return moment
    for _ in range(_MAX_LOOKAHEAD_DAYS):
        day += timedelta(days=1)
        if not is_excluded_day(rules, day):
            return datetime.combine(day, time.min, tzinfo=zone)
    raise ValueError("no allowed day within a year: check the holidays")
