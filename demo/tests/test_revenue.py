"""The demo's revenue moves: every kind drawn, each line in one move at most, plans moved within their
country, kind and currency in the right direction, churn only on plans without an allowance."""

from __future__ import annotations

from datetime import UTC, datetime

from demo.catalog import PLANS
from demo.dataset import Generator
from demo.revenue import downgrade_of, draw_moves, siblings, upgrade_of

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_every_kind_of_move_is_drawn_once_per_line_and_the_same_for_the_same_seed() -> None:
    customers = Generator(7, NOW).customers(1000)
    moves = draw_moves(customers, 7)
    assert all(n > 0 for n in moves.counts().values()), moves.counts()
    assert draw_moves(Generator(7, NOW).customers(1000), 7).counts() == moves.counts()
    moved = (
        [line.username for line, _ in moves.upgrades + moves.downgrades_now + moves.downgrades_at_cycle_end]
        + [line.username for line in moves.cancellations + moves.churned]
    )  # fmt: skip
    assert len(moved) == len(set(moved))
    assert {line.username for line in moves.win_backs} <= {line.username for line in moves.churned}
    for line, plan in moves.upgrades:
        assert (plan.currency, plan.country, plan.business) == (line.plan.currency, line.plan.country,
                                                                line.plan.business)  # fmt: skip
        assert plan.price_minor > line.plan.price_minor
    for line, plan in moves.downgrades_now + moves.downgrades_at_cycle_end:
        assert plan.currency == line.plan.currency and plan.price_minor < line.plan.price_minor
    assert all(line.plan.included_octets is None and line.lifecycle == "active" for line in moves.churned)
    with_us = {line.username for c in customers if c.months_with_us >= 1 for line in c.subscribers}
    assert set(moved) <= with_us


def test_plan_moves_stay_on_an_access_the_line_has() -> None:
    by_code = {p.code: p for p in PLANS}
    assert upgrade_of(by_code["DE-FIBER-100"]) == by_code["DE-FIBER-500"]
    assert downgrade_of(by_code["DE-FIBER-100"]) is None  # DSL 50 is cheaper, but on another access
    assert upgrade_of(by_code["DE-DSL-50"]) is None
    assert downgrade_of(by_code["GB-FIBRE-900"]) == by_code["GB-FIBRE-500"]
    assert upgrade_of(by_code["US-BUSINESS-1G"]) is None  # the only US business plan
    assert all(p.business is False for p in siblings(by_code["FR-FIBRE-500"]))
