"""The support SLA report's arithmetic, pure: quantiles, backlog age buckets, rates per 1,000 subscribers.

Quantiles interpolate linearly between the two nearest ranks (PostgreSQL's `percentile_cont`, NumPy's default):
the p-quantile of n sorted values is at rank p * (n - 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

BACKLOG_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("0-1d", timedelta(days=1)),
    ("1-3d", timedelta(days=3)),
    ("3-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    ("30d+", None),
)


def quantile(values: Sequence[float], p: float) -> float | None:
    """The p-quantile (0 <= p <= 1) of `values`, None when there are none."""
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    if not values:
        return None
    ordered = sorted(values)
    rank = p * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def backlog_bucket(age: timedelta) -> str:
    """The bucket of a ticket open for `age` (each bucket includes its lower bound)."""
    for name, upper in BACKLOG_BUCKETS:
        if upper is None or age < upper:
            return name
    raise AssertionError("unreachable")


def per_thousand(tickets: int, subscribers: int) -> float | None:
    """Tickets per 1,000 subscribers, rounded to 2 places; None without subscribers."""
    return None if subscribers == 0 else round(tickets * 1000 / subscribers, 2)


def rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)
