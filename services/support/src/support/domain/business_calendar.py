"""The SLA clock: business time in a tenant's calendar and time zone, with pauses.

A `BusinessCalendar` says which local hours of which weekdays count (and which local dates are holidays). Each
day's opening and closing are local wall-clock times converted to UTC *on that day*, so a day across a daylight
saving change is as long as the clock on the wall says (an 08:00-18:00 day is 10 hours on both sides of the
change; a window that spans the 02:00-03:00 jump is an hour shorter). A nonexistent local time (in the spring
gap) counts from the instant after the gap; an ambiguous one (in the autumn overlap) is the first of the two.

`due_at(calendar, start, budget, pauses)` is the instant at which `budget` of business time, counted from
`start`, has elapsed, not counting business time inside any pause (a ticket pending on the customer). An open
pause (no end) stops the clock: the due time is unknown (`None`) until the pause ends. `elapsed` is the inverse:
business time between two instants, less the pauses. Both are pure functions: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]

MAX_DAYS = 3 * 366  # a budget that does not fit in three years of calendar is a configuration error


@dataclass(frozen=True)
class BusinessCalendar:
    """`hours[weekday]` (Monday = 0) is the local (open, close) of that day; a weekday not in it is closed."""

    timezone: str = "UTC"
    hours: dict[int, tuple[time, time]] = field(default_factory=lambda: {d: (time(9), time(17)) for d in range(5)})
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        for weekday, (opens, closes) in self.hours.items():
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday {weekday} is not 0 (Monday) to 6 (Sunday)")
            if not opens < closes:
                raise ValueError(f"weekday {weekday}: opening {opens} is not before closing {closes}")

    @classmethod
    def always(cls, timezone: str = "UTC") -> BusinessCalendar:
        """24x7: every hour counts (urgent tickets at an ISP often run on this calendar)."""
        return cls(timezone, {d: (time(0), time.max) for d in range(7)})


def _local_to_utc(day: date, moment: time, zone: ZoneInfo) -> datetime:
    if moment == time.max:  # the end of the day: midnight of the next day
        return datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    wall = datetime.combine(day, moment)
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the first of two ambiguous instants
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # A wall time that does not exist (spring gap): the first instant after the gap. fold=1 reads it with the
    # offset after the change, which lands before the gap; walk to where the wall clock has passed it.
    instant = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while instant.astimezone(zone).replace(tzinfo=None) < wall:
        instant += timedelta(minutes=1)
    return instant


def business_intervals(calendar: BusinessCalendar, start: datetime) -> Iterator[Interval]:
    """The calendar's open intervals (UTC) from `start` on, the first one clipped at `start`."""
    zone = ZoneInfo(calendar.timezone)
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = day + timedelta(days=MAX_DAYS)
    while day <= last:
        window = calendar.hours.get(day.weekday())
        if window is not None and day not in calendar.holidays:
            opens, closes = (_local_to_utc(day, t, zone) for t in window)
            if closes > start and closes > opens:
                yield max(opens, start), closes
        day += timedelta(days=1)


def _minus_pauses(intervals: Iterator[Interval], pauses: Sequence[Pause]) -> Iterator[Interval]:
    """Each interval without the parts inside a pause; stops at an open pause."""
    ordered = sorted(pauses, key=lambda p: p[0])
    for begin, end in intervals:
        cursor = begin
        for p_start, p_end in ordered:
            if p_end is not None and p_end <= cursor:
                continue
            if p_start >= end:
                break
            if p_start > cursor:
                yield cursor, p_start
            if p_end is None:
                return
            cursor = max(cursor, p_end)
            if cursor >= end:
                break
        if cursor < end:
            yield cursor, end


def due_at(
    calendar: BusinessCalendar, start: datetime, budget: timedelta, pauses: Sequence[Pause] = ()
) -> datetime | None:
    """When `budget` of business time from `start` has elapsed (pauses not counted); None while paused."""
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if budget < timedelta(0):
        raise ValueError("budget must not be negative")
    left = budget
    for begin, end in _minus_pauses(business_intervals(calendar, start.astimezone(UTC)), pauses):
        if end - begin >= left:
            return begin + left
        left -= end - begin
    if any(p_end is None for _, p_end in pauses):
        return None
    raise ValueError(f"the calendar has less than {budget} of business time in {MAX_DAYS} days")


def elapsed(calendar: BusinessCalendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    """Business time between `start` and `end`, less the pauses."""
    total = timedelta(0)
    if end <= start:
        return total
    for begin, finish in _minus_pauses(business_intervals(calendar, start.astimezone(UTC)), pauses):
        if begin >= end:
            break
        total += min(finish, end) - begin
    return total
