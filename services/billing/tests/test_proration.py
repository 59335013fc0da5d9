"""The proration rule and the monthly recurring amount, worked out by hand (pure functions, no I/O).

Rule (docs/billing.md): a change at instant t in the cycle [S, E) credits old price x (E - t) / (E - S) and
charges new price x (E - t) / (E - S), in whole seconds, each rounded half to even to the minor unit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from billing.domain.calendar import billing_cycle
from billing.domain.revenue import default_timing, monthly_amount, prorate

UTC_ZONE = ZoneInfo("UTC")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_31_day_cycle_upgraded_on_the_11th():
    # January 2025: 31 days; at 2025-01-11 00:00, 21 days remain.
    # credit 2999 x 21/31 = 2031.58 -> 2032; charge 4999 x 21/31 = 3386.42 -> 3386.
    cycle = billing_cycle(datetime(2025, 1, 1).date(), 0)
    p = prorate(2999, 4999, utc("2025-01-11T00:00"), cycle.starts_at(UTC_ZONE), cycle.ends_at(UTC_ZONE))
    assert (p.remaining_seconds, p.cycle_seconds) == (21 * 86400, 31 * 86400)
    assert (p.credit_minor, p.charge_minor) == (2032, 3386)


def test_a_february_cycle_halfway_rounds_half_to_even():
    # February 2025: 28 days; at 2025-02-15 00:00, 14 days remain: exactly one half.
    # credit 3001 / 2 = 1500.5 -> 1500 (even); charge 5001 / 2 = 2500.5 -> 2500 (even); half-up would say 1501/2501.
    cycle = billing_cycle(datetime(2025, 1, 1).date(), 1)
    assert (cycle.start.isoformat(), cycle.end.isoformat()) == ("2025-02-01", "2025-03-01")
    p = prorate(3001, 5001, utc("2025-02-15T00:00"), cycle.starts_at(UTC_ZONE), cycle.ends_at(UTC_ZONE))
    assert (p.remaining_seconds, p.cycle_seconds) == (14 * 86400, 28 * 86400)
    assert (p.credit_minor, p.charge_minor) == (1500, 2500)
    # 3003 / 2 = 1501.5 -> 1502 (even, upwards this time)
    assert (
        prorate(3003, 0, utc("2025-02-15T00:00"), cycle.starts_at(UTC_ZONE), cycle.ends_at(UTC_ZONE)).credit_minor
        == 1502
    )


def test_seconds_count_not_days_and_dst_makes_a_cycle_an_hour_short():
    # Berlin, March 2025: the clocks go forward on the 30th, so the cycle is 31 days less one hour.
    berlin = ZoneInfo("Europe/Berlin")
    cycle = billing_cycle(datetime(2025, 3, 1).date(), 0)
    starts, ends = cycle.starts_at(berlin), cycle.ends_at(berlin)
    at = utc("2025-03-31T10:00")  # 12:00 in Berlin on the last day: 12 hours remain
    p = prorate(10_000, 0, at, starts, ends)
    assert (p.remaining_seconds, p.cycle_seconds) == (12 * 3600, 31 * 86400 - 3600)
    assert p.credit_minor == 162  # 10000 x 43200 / 2674800 = 161.507 -> 162


def test_a_change_at_the_start_of_a_cycle_has_no_proration_and_outside_it_is_refused():
    cycle = billing_cycle(datetime(2025, 1, 1).date(), 0)
    starts, ends = cycle.starts_at(UTC_ZONE), cycle.ends_at(UTC_ZONE)
    p = prorate(2999, 4999, starts, starts, ends)
    assert (p.credit_minor, p.charge_minor) == (0, 0)
    with pytest.raises(ValueError, match="inside the cycle"):
        prorate(2999, 4999, ends, starts, ends)


def test_monthly_amount_and_default_timing():
    assert monthly_amount(2999) == 2999
    assert monthly_amount(10_000, 3) == 3333  # a quarterly plan
    assert monthly_amount(30, 12) == 2  # 2.5 -> 2, half to even
    assert monthly_amount(42, 12) == 4  # 3.5 -> 4
    with pytest.raises(ValueError):
        monthly_amount(100, 0)
    assert default_timing(2999, 4999) == "now"
    assert default_timing(4999, 2999) == "period_end"
    assert default_timing(2999, 2999) == "now"
