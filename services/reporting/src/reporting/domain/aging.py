"""Accounts-receivable aging: which bucket an open balance falls in, as of a date.

Days past due = as_of - due_date. An invoice due today or later is `current` (not yet due); then 1-30,
31-60, 61-90 and over 90 days past due. (The seed put an invoice due today in "1_30_days" and one 30 days
past due in "31_60_days"; the bucket names say otherwise, and so do we.)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple


class Bucket(NamedTuple):
    name: str
    min_days: int | None  # days past due, inclusive; None: no lower bound
    max_days: int | None  # inclusive; None: no upper bound


BUCKETS = (
    Bucket("current", None, 0),
    Bucket("1_30_days", 1, 30),
    Bucket("31_60_days", 31, 60),
    Bucket("61_90_days", 61, 90),
    Bucket("over_90_days", 91, None),
)


def bucket_for(due_date: date, as_of: date) -> str:
    days = (as_of - due_date).days
    for bucket in BUCKETS:
        if (bucket.min_days is None or days >= bucket.min_days) and (
            bucket.max_days is None or days <= bucket.max_days
        ):
            return bucket.name
    raise AssertionError("the buckets cover every integer")


def due_date_range(bucket: Bucket, as_of: date) -> tuple[date | None, date | None]:
    """The due dates (inclusive bounds, None: open) whose invoices are in `bucket` as of `as_of`."""
    earliest = None if bucket.max_days is None else as_of - timedelta(days=bucket.max_days)
    latest = None if bucket.min_days is None else as_of - timedelta(days=bucket.min_days)
    return earliest, latest


def contribution(movements: Iterable[tuple[datetime, int]]) -> dict[date, tuple[int, int]]:
    """What one invoice adds to the aging rollup on each day its balance moved: (change of its positive
    balance, change of whether it is owed at all), by UTC date.

    Summed over the days up to D this gives the invoice's balance at the end of D (0 if not positive) and
    1 if it was owed then, else 0; so that the rollup answers "as of D" for any D, by plain sums.
    """
    by_day: dict[date, int] = {}
    for at, delta in movements:
        day = at.astimezone(UTC).date()
        by_day[day] = by_day.get(day, 0) + delta
    out, balance = {}, 0
    for day in sorted(by_day):
        before, balance = balance, balance + by_day[day]
        change = (max(balance, 0) - max(before, 0), int(balance > 0) - int(before > 0))
        if change != (0, 0):
            out[day] = change
    return out
