"""The SLA clock as a pure function: exact due times across business-hour boundaries, a weekend, both daylight
saving changes (Europe/Berlin, 2025-03-30 and 2025-10-26) and pauses while pending on the customer."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bss_runtime.errors import Conflict
from support.domain.business_calendar import BusinessCalendar, due_at, elapsed
from support.domain.tickets import ALLOWED, DEFAULT_TARGETS, SlaTarget, Status, check_transition, due_times, target_for

BERLIN = BusinessCalendar("Europe/Berlin")  # Monday to Friday, 09:00-17:00 local


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.mark.parametrize(
    ("start", "budget", "due"),
    [
        # Monday 2025-03-03 10:00 CET (09:00 UTC) + 4 h: 14:00 CET the same day.
        (utc(2025, 3, 3, 9), hours(4), utc(2025, 3, 3, 13)),
        # Ends exactly at closing: 17:00 CET.
        (utc(2025, 3, 3, 9), hours(7), utc(2025, 3, 3, 16)),
        # Across closing: 15:00 CET + 4 h = 2 h on Monday, 2 h on Tuesday -> Tuesday 11:00 CET.
        (utc(2025, 3, 3, 14), hours(4), utc(2025, 3, 4, 10)),
        # Before opening: 07:00 CET counts from 09:00 -> 10:00 CET.
        (utc(2025, 3, 3, 6), hours(1), utc(2025, 3, 3, 9)),
        # After closing: 20:00 CET counts from Tuesday 09:00.
        (utc(2025, 3, 3, 19), hours(2), utc(2025, 3, 4, 10)),
        # The weekend: Friday 16:00 CET + 3 h = 1 h on Friday, Monday 09:00-11:00 CET.
        (utc(2025, 3, 7, 15), hours(3), utc(2025, 3, 10, 10)),
        # Opened on a Saturday: counts from Monday 09:00.
        (utc(2025, 3, 8, 12), hours(1), utc(2025, 3, 10, 9)),
        # Across the spring change (Sunday 2025-03-30): Friday 16:00 CET + 2 h -> Monday 10:00 CEST = 08:00 UTC.
        (utc(2025, 3, 28, 15), hours(2), utc(2025, 3, 31, 8)),
        # Across the autumn change (Sunday 2025-10-26): Friday 16:00 CEST + 2 h -> Monday 10:00 CET = 09:00 UTC.
        (utc(2025, 10, 24, 14), hours(2), utc(2025, 10, 27, 9)),
        # Five business days: Monday 09:00 CET + 40 h -> Friday 17:00 CET.
        (utc(2025, 3, 3, 8), hours(40), utc(2025, 3, 7, 16)),
        # A zero budget is due at once (in business time).
        (utc(2025, 3, 3, 9, 30), hours(0), utc(2025, 3, 3, 9, 30)),
    ],
)
def test_due_in_business_hours(start: datetime, budget: timedelta, due: datetime) -> None:
    assert due_at(BERLIN, start, budget) == due
    assert elapsed(BERLIN, start, due) == budget


def test_a_day_that_spans_the_spring_gap_is_an_hour_shorter() -> None:
    sundays = BusinessCalendar("Europe/Berlin", {6: (time(1), time(5))})
    # 2025-03-30: 01:00 CET (00:00 UTC) to 05:00 CEST (03:00 UTC) is 3 hours.
    assert elapsed(sundays, utc(2025, 3, 29), utc(2025, 3, 31)) == hours(3)
    # 3 h 30 min: the last 30 min on the next Sunday, 01:30 CEST = Saturday 23:30 UTC.
    assert due_at(sundays, utc(2025, 3, 29), hours(3.5)) == utc(2025, 4, 5, 23, 30)
    # An opening inside the gap (02:30 does not exist) opens after it: 03:00 CEST = 01:00 UTC.
    gap = BusinessCalendar("Europe/Berlin", {6: (time(2, 30), time(4))})
    assert due_at(gap, utc(2025, 3, 29), timedelta(minutes=1)) == utc(2025, 3, 30, 1, 1)
    assert elapsed(gap, utc(2025, 3, 29), utc(2025, 3, 31)) == hours(1)


def test_a_day_that_spans_the_autumn_overlap_is_an_hour_longer() -> None:
    sundays = BusinessCalendar("Europe/Berlin", {6: (time(1), time(5))})
    # 2025-10-26: 01:00 CEST (Saturday 23:00 UTC) to 05:00 CET (04:00 UTC) is 5 hours.
    assert elapsed(sundays, utc(2025, 10, 25), utc(2025, 10, 27)) == hours(5)
    assert due_at(sundays, utc(2025, 10, 25), hours(5)) == utc(2025, 10, 26, 4)


def test_a_24x7_clock_counts_real_time_across_the_change() -> None:
    always = BusinessCalendar.always("Europe/Berlin")
    # Saturday 22:00 CET + 6 h = Sunday 05:00 CEST (7 hours on the wall clock, 6 real ones).
    assert due_at(always, utc(2025, 3, 29, 21), hours(6)) == utc(2025, 3, 30, 3)
    assert elapsed(always, utc(2025, 3, 29, 21), utc(2025, 3, 30, 3)) == hours(6)


def test_a_holiday_is_skipped() -> None:
    calendar = BusinessCalendar("Europe/Berlin", holidays=frozenset({date(2025, 3, 4)}))
    # Monday 15:00 CET + 4 h: 2 h Monday, Tuesday is a holiday, 2 h Wednesday -> 11:00 CET.
    assert due_at(calendar, utc(2025, 3, 3, 14), hours(4)) == utc(2025, 3, 5, 10)


def test_a_pending_pause_moves_the_due_time_by_the_business_time_inside_it() -> None:
    start = utc(2025, 3, 3, 9)  # Monday 10:00 CET
    # Pending 11:00-15:00 CET: 1 h before, 2 h after (to 17:00), the last hour on Tuesday -> 10:00 CET.
    pause = (utc(2025, 3, 3, 10), utc(2025, 3, 3, 14))
    assert due_at(BERLIN, start, hours(4), [pause]) == utc(2025, 3, 4, 9)
    assert elapsed(BERLIN, start, utc(2025, 3, 4, 9), [pause]) == hours(4)
    # A pause outside business hours (overnight) changes nothing.
    night = (utc(2025, 3, 3, 17), utc(2025, 3, 4, 7))
    assert due_at(BERLIN, start, hours(4), [night]) == utc(2025, 3, 3, 13)
    # Two pauses, one across the weekend: Friday 16:00 CET + 3 h, pending Friday 16:30 CET to Monday 10:00 CET
    # and Monday 11:00-12:00 CET: 30 min Friday, 10:00-11:00 and 12:00-13:30 Monday -> 13:30 CET.
    pauses = [(utc(2025, 3, 7, 15, 30), utc(2025, 3, 10, 9)), (utc(2025, 3, 10, 10), utc(2025, 3, 10, 11))]
    assert due_at(BERLIN, utc(2025, 3, 7, 15), hours(3), pauses) == utc(2025, 3, 10, 12, 30)


def test_an_open_pause_stops_the_clock() -> None:
    start = utc(2025, 3, 3, 9)
    assert due_at(BERLIN, start, hours(4), [(utc(2025, 3, 3, 10), None)]) is None
    # A budget already spent before the pause began is still due.
    assert due_at(BERLIN, start, hours(1), [(utc(2025, 3, 3, 11), None)]) == utc(2025, 3, 3, 10)


def test_bad_calendars_and_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="opening"):
        BusinessCalendar("UTC", {0: (time(17), time(9))})
    with pytest.raises(ValueError, match="weekday"):
        BusinessCalendar("UTC", {7: (time(9), time(17))})
    with pytest.raises(ValueError, match="business time"):
        due_at(BusinessCalendar("UTC", {}), utc(2025, 1, 1), hours(1))
    with pytest.raises(ValueError, match="aware"):
        due_at(BERLIN, datetime(2025, 1, 1), hours(1))


def test_every_transition_of_the_lifecycle() -> None:
    for current in Status:
        for target in Status:
            if target in ALLOWED[current]:
                check_transition(current, target)
            else:
                with pytest.raises(Conflict):
                    check_transition(current, target)
    assert ALLOWED[Status.CLOSED] == frozenset()


def test_targets_by_priority_and_type_and_both_due_times() -> None:
    policies = {("high", "fault"): SlaTarget(hours(1), hours(2)), ("high", None): SlaTarget(hours(2), hours(6))}
    assert target_for(policies, "high", "fault") == SlaTarget(hours(1), hours(2))
    assert target_for(policies, "high", "billing") == SlaTarget(hours(2), hours(6))
    assert target_for(policies, "low", "fault") == DEFAULT_TARGETS["low"]
    due = due_times(BERLIN, utc(2025, 3, 3, 14), SlaTarget(hours(1), hours(4)))
    assert (due.response, due.resolution) == (utc(2025, 3, 3, 15), utc(2025, 3, 4, 10))
