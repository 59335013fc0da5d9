"""What the demo pays, by habit, and that its cycle totals are billing's (the credit it prepays must settle
exactly the invoices billing will issue)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.domain.amounts import make_line, totals
from demo.catalog import PLANS
from demo.dataset import CustomerSpec, Generator
from demo.money import PAYMENT_TERMS_DAYS, add_months, billed_lines, cycle_total, payments_for, tax_rate

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def test_cycle_totals_are_what_billing_invoices() -> None:
    for plan in PLANS:
        line = make_line("subscription", plan.name, quantity=Decimal(1), unit_price_minor=plan.price_minor,
                         tax_rate_bp=tax_rate(plan.country))  # fmt: skip
        assert cycle_total(plan) == totals([line], plan.currency).total.amount_minor, plan.code


def _customers() -> list[CustomerSpec]:
    customers = Generator(3, NOW).customers(600)
    for i, customer in enumerate(customers):
        customer.customer_id = f"c-{i}"
    return customers


def test_each_habit_pays_what_it_should() -> None:
    for customer in _customers():
        payments = payments_for(customer, NOW, random.Random(customer.key))
        per_cycle = sum(cycle_total(line.plan) for line in billed_lines(customer))
        if not per_cycle:
            assert payments == []
            continue
        paid = sum(p["amount_minor"] for p in payments)
        cycles = customer.months_with_us
        if customer.habit in ("on_time", "late"):
            assert paid == cycles * per_cycle
        elif customer.habit == "latest_open":
            assert paid == (cycles - 1) * per_cycle
        else:  # defaulting: the latest cycles unpaid, sometimes half of the first of them paid
            full = cycles - customer.unpaid_months
            assert paid in (full * per_cycle, full * per_cycle + per_cycle // 2)
        assert all(p["currency"] == customer.country.currency for p in payments)
        assert len({p["external_id"] for p in payments}) == len(payments)


def test_payment_dates_follow_the_invoices() -> None:
    for customer in _customers():
        for cycle, payment in enumerate(payments_for(customer, NOW, random.Random(customer.key))):
            issued = add_months(customer.started, cycle + 1)
            due = issued + timedelta(days=PAYMENT_TERMS_DAYS)
            received = datetime.fromisoformat(payment["received_at"])
            assert received < NOW
            if customer.habit == "late":
                assert received.date() > due or received >= NOW - timedelta(minutes=5)
            else:
                assert issued <= received.date() < due


def test_add_months() -> None:
    assert add_months(date(2026, 6, 28), 1) == date(2026, 7, 28)
    assert add_months(date(2026, 11, 3), 2) == date(2027, 1, 3)
