"""The pure rules: collections actions and priorities, aging buckets, unit conversions, session folding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from reporting.domain.aging import BUCKETS, bucket_for, due_date_range
from reporting.domain.collections import days_blocked, major_units, next_action, priority
from reporting.domain.sessions import NasReset, SessionRow, close_by_nas, merge
from reporting.domain.usage import gigabytes, hours


@pytest.mark.parametrize(
    ("days", "balance", "action", "prio"),
    [
        (0, "0", "monitor", "low"),
        (13, "5000", "monitor", "low"),
        (13, "5000.01", "monitor", "medium"),
        (14, "0", "payment_reminder", "low"),
        (29, "20000.01", "payment_reminder", "high"),
        (30, "10000", "payment_reminder", "medium"),
        (30, "10000.01", "collections_call", "high"),  # 30+ days and over 10,000: high (seed 000's example)
        (45, "15000", "collections_call", "high"),  # seed 000's own example row
        (59, "50000.01", "collections_call", "critical"),
        (60, "0", "final_notice", "high"),
        (89, "0", "final_notice", "high"),
        (90, "0", "escalate_to_collections", "critical"),
    ],
)
def test_next_action_and_priority_follow_the_seed(days: int, balance: str, action: str, prio: str) -> None:
    assert next_action(days, Decimal(balance)) == action
    assert priority(days, Decimal(balance)) == prio


def test_thresholds_are_in_major_units_of_the_currency() -> None:
    assert major_units(1_000_001, "EUR") == Decimal("10000.01")
    assert major_units(10_001, "JPY") == Decimal("10001")
    assert major_units(10_000_001, "KWD") == Decimal("10000.001")
    assert next_action(30, major_units(10_001, "JPY")) == "collections_call"


def test_days_blocked_counts_whole_days() -> None:
    now = datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert days_blocked(now - timedelta(hours=47), now) == 1
    assert days_blocked(now - timedelta(days=30), now) == 30
    assert days_blocked(now + timedelta(hours=1), now) == 0


@pytest.mark.parametrize(
    ("days_past_due", "bucket"),
    [(-5, "current"), (0, "current"), (1, "1_30_days"), (30, "1_30_days"), (31, "31_60_days"), (60, "31_60_days"),
     (61, "61_90_days"), (90, "61_90_days"), (91, "over_90_days"), (400, "over_90_days")],
)  # fmt: skip
def test_aging_buckets_by_days_past_due(days_past_due: int, bucket: str) -> None:
    as_of = date(2025, 3, 31)
    due = as_of - timedelta(days=days_past_due)
    assert bucket_for(due, as_of) == bucket
    # the due-date ranges the SQL uses agree with bucket_for
    (match,) = [b for b in BUCKETS if _within(due, due_date_range(b, as_of))]
    assert match.name == bucket


def _within(day: date, bounds: tuple[date | None, date | None]) -> bool:
    earliest, latest = bounds
    return (earliest is None or day >= earliest) and (latest is None or day <= latest)


def test_units_as_in_the_seed() -> None:
    assert gigabytes(5_368_709_120) == 5.0
    assert gigabytes(1_073_741_824) == 1.0
    assert gigabytes(490_473_114_682) == 456.789
    assert hours(16_200) == 4.5
    assert hours(8_425_800) == 2340.5


T0 = datetime(2025, 1, 1, tzinfo=UTC)
ROW = SessionRow(
    session_key="k", start_time=T0, username="u", acct_session_id="a", nas_id="n", nas_ip_address="10.0.0.1",
    framed_ip_address=None, framed_ipv6_prefix=None, delegated_ipv6_prefix=None, calling_station_id=None,
    event_time=T0, session_time_seconds=0, input_octets=0, output_octets=0,
)  # fmt: skip


def at_minute(m: int, **changes: object) -> SessionRow:
    return ROW._replace(event_time=T0 + timedelta(minutes=m), session_time_seconds=60 * m, **changes)  # type: ignore[arg-type]


def stop(m: int) -> SessionRow:
    return at_minute(m, stop_source="stop", stop_time=T0 + timedelta(minutes=m), terminate_cause="User-Request")


def test_counters_only_move_forward_and_a_stop_is_final() -> None:
    current = merge(None, at_minute(5))
    assert current == at_minute(5)
    assert merge(current, at_minute(3)) is None  # older
    assert merge(current, at_minute(5)) is None  # the same
    later = merge(current, at_minute(9))
    assert later is not None and later.session_time_seconds == 540
    stopped = merge(later, stop(10))
    assert stopped is not None and stopped.time == T0 + timedelta(minutes=10)
    assert merge(stopped, at_minute(20)) is None
    assert merge(stopped, stop(30)) is None


def test_the_start_time_of_the_first_event_is_kept() -> None:
    current = merge(None, at_minute(1))
    assert current is not None
    drifted = merge(current, at_minute(2)._replace(start_time=T0 + timedelta(seconds=1)))
    assert drifted is not None and drifted.start_time == T0


def test_a_nas_reset_closes_until_a_real_stop_arrives() -> None:
    at = T0 + timedelta(minutes=7)
    reset = NasReset(at, "NAS-Request")
    open_row = merge(None, at_minute(5))
    assert open_row is not None
    closed = close_by_nas(open_row, reset)
    assert (closed.stop_source, closed.stop_time, closed.terminate_cause, closed.time) == (
        "nas", at, "NAS-Request", at
    )  # fmt: skip
    # later counters (sent before the reset, read after it) still count; the session stays closed
    updated = merge(closed, at_minute(6))
    assert updated is not None and close_by_nas(updated, reset).stop_source == "nas"
    assert close_by_nas(updated, reset).session_time_seconds == 360
    # a real Stop replaces the NAS's guess, and no reset touches it afterwards
    real = merge(closed, stop(6))
    assert real is not None and close_by_nas(real, reset) == real and real.stop_source == "stop"
    assert close_by_nas(open_row, None) == open_row


def test_an_invoices_aging_contribution_by_day() -> None:
    from reporting.domain.aging import contribution

    day = datetime(2025, 3, 1, tzinfo=UTC)
    moves = [
        (day, 10_000),  # issued
        (day + timedelta(days=5, hours=3), -4_000),  # part paid
        (day + timedelta(days=5, hours=9), -1_000),  # and more the same day: one change for the day
        (day + timedelta(days=9), -6_000),  # overpaid: the balance is -1,000, which ages as nothing
        (day + timedelta(days=12), 3_000),  # charged again
    ]
    assert contribution(moves) == {
        date(2025, 3, 1): (10_000, 1),
        date(2025, 3, 6): (-5_000, 0),
        date(2025, 3, 10): (-5_000, -1),
        date(2025, 3, 13): (2_000, 1),
    }
    assert contribution([]) == {}
    assert contribution([(day, 500), (day, -500)]) == {}
