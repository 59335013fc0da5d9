"""Revenue analytics' pure rules (reporting/analytics/domain/revenue.py): plain pytest, no Kafka, no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.analytics.domain.revenue import (
    DEFAULT_GROSS_MARGIN,
    History,
    Interval,
    MrrChange,
    Rollup,
    classify,
    convert_minor,
    decimal_text,
    month_kpis,
    movements,
    periods,
    periods_from_rollups,
    snapshot,
)


def ts(day: int, month: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "earlier", "expected"),
    [
        (0, 0, False, None),
        (1000, 1000, True, None),
        (0, 1000, False, "new"),
        (0, 1000, True, "reactivation"),
        (1000, 1500, True, "expansion"),
        (1500, 1000, True, "contraction"),
        (1000, 0, True, "churn"),
    ],
)
def test_classify(before: int, after: int, earlier: bool, expected: str | None) -> None:
    assert classify(before, after, had_mrr_earlier=earlier) == expected


def test_mrr_at_an_instant_counts_changes_strictly_before_it() -> None:
    h = History([MrrChange("c1", "EUR", ts(10), 2000), MrrChange("c1", "EUR", ts(20), 3000)])
    assert h.mrr(("c1", "EUR"), ts(10)) == 0
    assert h.mrr(("c1", "EUR"), ts(10) + timedelta(microseconds=1)) == 2000
    assert h.mrr(("c1", "EUR"), ts(21)) == 3000
    assert h.had_mrr_before(("c1", "EUR"), ts(11)) and not h.had_mrr_before(("c1", "EUR"), ts(10))


def test_movements_of_a_month_per_customer_and_currency() -> None:
    h = History(
        [
            MrrChange("new", "EUR", ts(5), 1000),
            MrrChange("up", "EUR", ts(1, 12, 2025), 2000),
            MrrChange("up", "EUR", ts(7), 2500),
            MrrChange("up", "EUR", ts(8), 2400),  # up then a little down inside the month: net expansion 400
            MrrChange("down", "EUR", ts(1, 12, 2025), 3000),
            MrrChange("down", "EUR", ts(9), 1000),
            MrrChange("gone", "EUR", ts(1, 12, 2025), 4000),
            MrrChange("gone", "EUR", ts(15), 0),
            MrrChange("back", "EUR", ts(1, 10, 2025), 500),
            MrrChange("back", "EUR", ts(1, 11, 2025), 0),
            MrrChange("back", "EUR", ts(20), 700),
            MrrChange("brief", "EUR", ts(3), 900),  # new and gone within the month: no movement
            MrrChange("brief", "EUR", ts(4), 0),
            MrrChange("usd", "USD", ts(2), 1234),
        ]
    )
    moved = movements(h, ts(1), ts(1, 2))
    eur = moved["EUR"]
    assert eur.starting_mrr_minor == 2000 + 3000 + 4000
    assert eur.amounts == {"new": 1000, "expansion": 400, "contraction": -2000, "churn": -4000, "reactivation": 700}
    assert eur.customers == {"new": 1, "expansion": 1, "contraction": 1, "churn": 1, "reactivation": 1}
    assert eur.ending_mrr_minor == 1000 + 2400 + 1000 + 700
    assert (eur.starting_customers, eur.ending_customers) == (3, 4)
    assert moved["USD"].amounts["new"] == 1234
    snap = snapshot(h, ts(1, 2))
    assert (snap["EUR"].mrr_minor, snap["EUR"].paying_customers, snap["EUR"].arpu_minor) == (5100, 4, 1275)


def test_periods() -> None:
    assert periods(date(2026, 1, 15), date(2026, 3, 1), "month") == [
        (date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 3, 1), date(2026, 4, 1)),
    ]
    assert periods(date(2026, 1, 7), date(2026, 1, 12), "week") == [
        (date(2026, 1, 5), date(2026, 1, 12)),
        (date(2026, 1, 12), date(2026, 1, 19)),
    ]
    assert len(periods(date(2025, 12, 31), date(2026, 1, 2), "day")) == 3
    assert periods(date(2025, 12, 10), date(2025, 12, 10), "month") == [(date(2025, 12, 1), date(2026, 1, 1))]


def test_month_kpis_by_their_formulas() -> None:
    h = History(
        [
            MrrChange("a", "EUR", ts(1, 12, 2025), 4000),
            MrrChange("b", "EUR", ts(1, 12, 2025), 6000),
            MrrChange("c", "EUR", ts(1, 12, 2025), 10000),
            MrrChange("a", "EUR", ts(10), 0),  # churn 4000
            MrrChange("b", "EUR", ts(11), 5000),  # contraction 1000
            MrrChange("c", "EUR", ts(12), 13000),  # expansion 3000
            MrrChange("d", "EUR", ts(13), 2000),  # new 2000
        ]
    )
    k = month_kpis(
        movements(h, ts(1), ts(1, 2)), date(2026, 1, 1), invoiced={"EUR": 31000}, collected={"EUR": 24800},
        receivables={"EUR": 6200}, gigabytes=Fraction(1550), gross_margin=DEFAULT_GROSS_MARGIN,
    )["EUR"]  # fmt: skip
    assert (k.starting_mrr_minor, k.ending_mrr_minor) == (20000, 20000)
    assert k.logo_churn_rate == Fraction(1, 3)
    assert k.gross_revenue_churn == Fraction(5000, 20000)
    assert k.net_revenue_churn == Fraction(2000, 20000)
    assert k.net_revenue_retention == Fraction(18000, 20000)
    assert k.arpu_minor == 6667  # 20000 / 3 = 6666.67
    assert k.ltv_minor == round(Fraction(20000, 3) * Fraction(8, 10) / Fraction(1, 4))  # 21333
    assert k.ltv_minor == 21333
    assert k.mrr_growth == 0
    assert k.dso_days == Fraction(6200, 31000) * 31
    assert k.collection_rate == Fraction(24800, 31000)
    assert k.revenue_per_gb_minor == 20
    assert decimal_text(k.logo_churn_rate) == "0.333333"
    assert decimal_text(Fraction(-1, 8), 2) == "-0.12"  # half to even
    assert decimal_text(Fraction(5, 1000), 2) == "0.00"


def test_no_churn_means_no_ltv_and_no_start_means_no_rates() -> None:
    h = History([MrrChange("a", "EUR", ts(5), 1000)])
    k = month_kpis(movements(h, ts(1), ts(1, 2)), date(2026, 1, 1), invoiced={}, collected={}, receivables={},
                   gigabytes=Fraction(0), gross_margin=DEFAULT_GROSS_MARGIN)["EUR"]  # fmt: skip
    assert k.ltv_minor is None and k.logo_churn_rate is None and k.mrr_growth is None and k.dso_days is None
    assert k.arpu_minor == 1000 and k.revenue_per_gb_minor is None


def test_convert_minor_between_exponents() -> None:
    assert convert_minor(1000, Fraction("1.0850"), 2, 2) == 1085  # 10.00 EUR -> 10.85 USD
    assert convert_minor(1000, Fraction("161.5"), 2, 0) == 1615  # 10.00 EUR -> 1615 JPY
    assert convert_minor(1615, Fraction(1) / Fraction("161.5"), 0, 2) == 1000


changes = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4"]),
        st.sampled_from(["EUR", "USD"]),
        st.integers(0, 400),
        st.sampled_from([0, 0, 500, 1000, 2500, 9999]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(changes, st.integers(0, 400), st.integers(1, 200))
def test_start_plus_movements_is_end(raw: list[tuple[str, str, int, int]], offset: int, length: int) -> None:
    history = History([MrrChange(c, cur, ts(1) + timedelta(days=d), m) for c, cur, d, m in raw])
    start = ts(1) + timedelta(days=offset)
    end = start + timedelta(days=length)
    before, after = snapshot(history, start), snapshot(history, end)
    for currency, p in movements(history, start, end).items():
        assert p.starting_mrr_minor + sum(p.amounts.values()) == p.ending_mrr_minor
        assert p.starting_mrr_minor == (before[currency].mrr_minor if currency in before else 0)
        assert p.ending_mrr_minor == (after[currency].mrr_minor if currency in after else 0)
        assert p.amounts["churn"] <= 0 <= p.amounts["new"]
    # split in two, the movements add up to the whole (amounts of a customer may move between kinds, totals not)
    middle = start + (end - start) / 2
    whole = movements(history, start, end)
    first, second = movements(history, start, middle), movements(history, middle, end)
    for currency, p in whole.items():
        parts = sum(sum(x[currency].amounts.values()) for x in (first, second) if currency in x)
        assert parts == sum(p.amounts.values())


@settings(max_examples=200, deadline=None)
@given(changes, st.integers(0, 300), st.integers(1, 120), st.sampled_from(["day", "week", "month"]))
def test_the_rollups_answer_what_the_history_answers(
    raw: list[tuple[str, str, int, int]], offset: int, length: int, interval: Interval
) -> None:
    """What a customer adds to mrr_days and mrr_movements (day_deltas, period_movements), summed over customers,
    gives the same periods as classifying every customer over the history."""
    last = {(c, cur, d): m for c, cur, d, m in raw}  # one change per customer, currency and instant
    changes_ = [MrrChange(c, cur, ts(1) + timedelta(days=d, hours=d % 5), m) for (c, cur, d), m in last.items()]
    history = History(changes_)
    timelines: dict[tuple[str, str], list[tuple[datetime, int, int]]] = {}
    for change in sorted(changes_, key=lambda c: c.effective_at):
        line = timelines.setdefault((change.customer_id, change.currency), [])
        if (line[-1][1] if line else 0) != change.mrr_minor:
            line.append((change.effective_at, change.mrr_minor, int(change.mrr_minor > 0)))
    rollup = Rollup()
    for (_, currency), line in timelines.items():
        rollup.add("t", currency, line, +1)
        rollup.add("t", currency, [], -1)
    first = ts(1).date() + timedelta(days=offset)
    spans = periods(first, first + timedelta(days=length), interval)
    begin = spans[0][0]
    base: dict[str, tuple[int, int]] = {}
    for (_, currency, day), (mrr, paying, _) in rollup.days.items():
        if day < begin:
            old = base.get(currency, (0, 0))
            base[currency] = (old[0] + mrr, old[1] + paying)
    deltas = [(cur, day, v[0], v[1]) for (_, cur, day), v in rollup.days.items() if begin <= day < spans[-1][1]]
    moves = [(cur, start, kind, v[0], v[1]) for (_, cur, iv, start, kind), v in rollup.moves.items()
             if iv == interval and begin <= start < spans[-1][1] and v != [0, 0]]  # fmt: skip
    got = periods_from_rollups(spans, base, deltas, moves)
    for (start, end), period in zip(spans, got, strict=True):
        a = datetime.combine(start, datetime.min.time(), UTC)
        b = datetime.combine(end, datetime.min.time(), UTC)
        want = movements(history, a, b)
        assert {c: (p.starting_mrr_minor, p.ending_mrr_minor, p.amounts, p.customers, p.starting_customers,
                    p.ending_customers) for c, p in period.items()} == {
            c: (p.starting_mrr_minor, p.ending_mrr_minor, p.amounts, p.customers, p.starting_customers,
                p.ending_customers) for c, p in want.items()}  # fmt: skip
