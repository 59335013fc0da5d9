"""The pure rules, exactly: rounding, tax, allocation, numbering, cycles, overage and SLA credit math."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from billing.domain.amounts import make_line, round_half_away, totals
from billing.domain.calendar import billing_cycle, cycle_index, measurement_period, start_of_day
from billing.domain.numbering import Series, document_number
from billing.domain.settlement import Allocation, OpenBalance, allocate
from billing.domain.sla import CreditRule, Outage, availability_percent, downtime
from billing.domain.usage import GB, bucket_of, overage_charge
from bss_contracts.money import CurrencyMismatch, Money

# --- amounts ----------------------------------------------------------------------------------------------------


def test_rounding_is_half_away_from_zero():
    assert [round_half_away(Fraction(n, 2)) for n in (5, 3, 1, -1, -5)] == [3, 2, 1, -1, -3]
    assert round_half_away(Fraction(1249, 1000)) == 1


def test_line_amount_and_tax_are_rounded_per_line_and_summed():
    a = make_line("one_off", "a", quantity=Decimal("2.5"), unit_price_minor=333, tax_rate_bp=1900)  # 832.5 -> 833
    b = make_line("one_off", "b", quantity=Decimal(1), unit_price_minor=105, tax_rate_bp=1900)  # tax 19.95 -> 20
    assert (a.amount_minor, a.tax_minor) == (833, 158)  # 158.27
    assert (b.amount_minor, b.tax_minor) == (105, 20)
    sums = totals([a, b], "EUR")
    assert (sums.subtotal.amount_minor, sums.tax.amount_minor, sums.total.amount_minor) == (938, 178, 1116)


def test_money_of_different_currencies_is_never_added():
    with pytest.raises(CurrencyMismatch):
        Money(amount_minor=1, currency="EUR") + Money(amount_minor=1, currency="USD")


def test_allocation_fills_oldest_first_and_returns_the_rest():
    allocations, rest = allocate(7_000, [OpenBalance("a", 3_000), OpenBalance("b", 2_500), OpenBalance("c", 9_000)])
    assert allocations == [Allocation("a", 3_000, 0), Allocation("b", 2_500, 0), Allocation("c", 1_500, 7_500)]
    assert rest == 0
    assert allocate(500, []) == ([], 500)
    assert allocate(10_000, [OpenBalance("a", 4_000)]) == ([Allocation("a", 4_000, 0)], 6_000)


def test_document_numbers():
    assert document_number(Series.INVOICE, 2026, 123) == "INV-2026-000123"
    assert document_number(Series.CREDIT_NOTE, 2025, 1) == "CN-2025-000001"


# --- calendar ---------------------------------------------------------------------------------------------------


def test_monthly_cycles_keep_the_anchor_day_clamped_to_short_months():
    anchor = date(2024, 1, 31)
    starts = [billing_cycle(anchor, i).start for i in range(4)]
    assert starts == [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]
    assert billing_cycle(anchor, 1).last_day == date(2024, 3, 30)
    assert cycle_index(anchor, date(2024, 3, 30)) == 1
    assert cycle_index(anchor, date(2024, 3, 31)) == 2
    assert cycle_index(anchor, date(2024, 1, 30)) == -1


def test_periods_begin_at_local_midnight():
    berlin = ZoneInfo("Europe/Berlin")
    assert start_of_day(date(2025, 2, 1), berlin) == datetime(2025, 1, 31, 23, tzinfo=UTC)
    march = measurement_period("month", date(2025, 3, 15))
    assert march.ends_at(berlin) - march.starts_at(berlin) == timedelta(hours=743)  # DST: one hour short
    q = measurement_period("quarter", date(2025, 5, 2))
    assert (q.start, q.end) == (date(2025, 4, 1), date(2025, 7, 1))


# --- usage ------------------------------------------------------------------------------------------------------


def test_overage_rounds_up_to_the_increment_and_prices_per_gb():
    assert overage_charge(13_500_000_000, 10 * GB, 200).amount_minor == 800  # 3.5 GB -> 4 GB
    assert overage_charge(10 * GB, 10 * GB, 200).amount_minor == 0
    assert overage_charge(10 * GB + 1, 10 * GB, 200).billed_octets == GB  # one byte over is one GB
    half = overage_charge(10 * GB + 1, 10 * GB, 199, increment_octets=GB // 2)
    assert (half.billed_octets, half.amount_minor) == (GB // 2, 100)  # 99.5 -> 100
    unlimited = overage_charge(10**15, None, 200)
    assert (unlimited.overage_octets, unlimited.amount_minor) == (0, 0)


def test_samples_are_kept_per_15_minute_bucket():
    assert bucket_of(datetime(2025, 1, 31, 22, 59, 59, tzinfo=UTC)) == datetime(2025, 1, 31, 22, 45, tzinfo=UTC)
    kathmandu = datetime(2025, 1, 1, 0, 0, tzinfo=ZoneInfo("Asia/Kathmandu"))  # UTC+05:45
    assert bucket_of(kathmandu) == kathmandu.astimezone(UTC)


# --- SLA --------------------------------------------------------------------------------------------------------

APRIL = (datetime(2025, 4, 1, tzinfo=UTC), datetime(2025, 5, 1, tzinfo=UTC))  # 2,592,000 s


def _down(*spans: tuple[int, int | None], now: datetime | None = None) -> timedelta:
    base = APRIL[0]
    outages = [Outage(base + timedelta(seconds=s), base + timedelta(seconds=e) if e is not None else None)
               for s, e in spans]  # fmt: skip
    return downtime(outages, *APRIL, now or APRIL[1])


def test_downtime_is_the_union_of_outages_within_the_window():
    assert _down((0, 3600), (1800, 5400), (10_000, 10_100)) == timedelta(seconds=5500)
    assert _down((-500, 100)) == timedelta(seconds=100)  # began before the window
    assert _down((100, None), now=APRIL[0] + timedelta(seconds=400)) == timedelta(seconds=300)  # still going on
    assert _down((2_591_000, 2_600_000)) == timedelta(seconds=1000)  # clipped at the end


RULE = CreditRule(target_percent=Decimal("99.9"))  # 10 % per 0.1 point (or part), cap 50 %


@pytest.mark.parametrize(
    ("down_seconds", "steps", "credit"),
    [
        (2_592, 0, 0),  # exactly 99.9 %: no breach
        (2_593, 1, 1_000),  # a hair below: one step
        (5_184, 1, 1_000),  # 99.8 % exactly: one full step
        (5_185, 2, 2_000),
        (7_200, 2, 2_000),  # 99.7222 %
        (12_600, 4, 4_000),  # 99.5139 %
        (36_000, 13, 5_000),  # 98.6111 %: 130 % capped at 50 %
    ],
)
def test_sla_credit_matches_the_rule(down_seconds, steps, credit):
    actual = availability_percent(timedelta(seconds=down_seconds), APRIL[1] - APRIL[0])
    assert RULE.breached(actual) is (steps > 0)
    assert RULE.steps(actual) == steps
    assert RULE.credit_minor(10_000, actual) == credit


def test_sla_credit_rounding_severity_and_deviation():
    rule = CreditRule(target_percent=Decimal("99.5"), step_percent=Decimal("0.25"),
                      credit_percent_per_step=Decimal("7.5"), cap_percent=Decimal(30))  # fmt: skip
    actual = Fraction(9935, 100)  # 0.15 below: 1 step = 7.5 %
    assert rule.credit_minor(3_333, actual) == 250  # 249.975
    assert rule.credit_minor(3_333, Fraction(97)) == 1_000  # 10 steps = 75 %, capped at 30 %: 999.9
    assert [RULE.severity(Fraction(p)) for p in ("99.5", "99.4", "97.9", "97.5")] == [
        "minor", "major", "critical", "critical",
    ]  # fmt: skip
    assert round(float(RULE.deviation_percent(Fraction("97.5"))), 2) == 2.40
    # As soon as the downtime so far exceeds what the whole period allows, the target cannot be met.
    window = APRIL[1] - APRIL[0]
    assert not RULE.cannot_be_met(timedelta(seconds=2_592), window)
    assert RULE.cannot_be_met(timedelta(seconds=2_593), window)
