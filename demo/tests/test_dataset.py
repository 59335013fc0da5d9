"""The demo ISP as drawn: deterministic, valid for the customers service, and with the variety the reports
need (countries, partners, payment habits, business lines)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from customers.entrypoints.schemas import CustomerCreate, SubscriberCreate
from demo.dataset import HISTORY_WINDOW_DAYS, CustomerSpec, Generator, cycle_anchor

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def customers() -> list[CustomerSpec]:
    return Generator(7, NOW).customers(1000)


def test_the_same_seed_draws_the_same_isp(customers: list[CustomerSpec]) -> None:
    again = Generator(7, NOW).customers(1000)
    assert [c.body for c in again] == [c.body for c in customers]
    assert [[s.username for s in c.subscribers] for c in again] == [
        [s.username for s in c.subscribers] for c in customers
    ]
    assert [c.body["name"] for c in Generator(8, NOW).customers(50)] != [c.body["name"] for c in customers[:50]]


def test_every_customer_and_line_is_valid_for_the_customers_service(customers: list[CustomerSpec]) -> None:
    for customer in customers:
        CustomerCreate.model_validate(dict(customer.body, partner_id="partner-1"))
        for line in customer.subscribers:
            SubscriberCreate(username=line.username, plan_id="plan-1")


def test_what_must_be_unique_is(customers: list[CustomerSpec]) -> None:
    lines = [s for c in customers for s in c.subscribers]
    assert len({s.username for s in lines}) == len(lines)
    assert len({s.mac for s in lines}) == len(lines)
    assert len({c.body["ipv6_prefix"] for c in customers}) == len(customers)
    static = [c.body["static_ip_assigned"] for c in customers if "static_ip_assigned" in c.body]
    assert len(set(static)) == len(static) > 0


def test_the_mix_the_reports_show(customers: list[CustomerSpec]) -> None:
    assert {c.country.code for c in customers} == {"DE", "FR", "GB", "US"}
    assert {c.partner.key if c.partner else None for c in customers} == {
        None,
        "nordlicht",
        "eurofibre",
        "albion",
        "prairie",
    }
    habits = Counter(c.habit for c in customers)
    assert habits["on_time"] > 700 and habits["defaulting"] > 30 and habits["late"] > 30 and habits["latest_open"] > 20
    assert 30 < sum(c.business for c in customers) < 100
    assert all(s.plan.country == c.country.code for c in customers for s in c.subscribers)
    assert all(s.plan.business == c.business for c in customers for s in c.subscribers)
    pending = [c for c in customers if c.body["installation_status"] != "completed"]
    assert pending and all(s.lifecycle == "pending" for c in pending for s in c.subscribers)


def test_defaulting_customers_owe_for_months_and_never_everything(customers: list[CustomerSpec]) -> None:
    for customer in customers:
        if customer.habit == "defaulting":
            assert customer.months_with_us >= 3
            assert 1 <= customer.unpaid_months <= min(4, customer.months_with_us)
        else:
            assert customer.unpaid_months == 0


@pytest.mark.parametrize("today", [date(2026, 11, 23), date(2026, 3, 2), date(2027, 1, 31)])
def test_cycle_anchor_leaves_the_session_window_inside_the_running_cycle(today: date) -> None:
    rng = random.Random(1)
    for months in range(1, 7):
        start = cycle_anchor(today, months, rng)
        assert start.day <= 28
        running_cycle_start = date(today.year, today.month, start.day)
        if running_cycle_start > today:  # the running cycle began last month
            month = today.month - 1 or 12
            running_cycle_start = date(today.year - (today.month == 1), month, start.day)
        assert running_cycle_start <= today - timedelta(days=HISTORY_WINDOW_DAYS + 2)
        elapsed = (running_cycle_start.year - start.year) * 12 + running_cycle_start.month - start.month
        assert elapsed == months
