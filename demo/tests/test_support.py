"""The demo's calls to the support desk: deterministic, from customers with a line, at least two urgent."""

from __future__ import annotations

from datetime import UTC, datetime

from demo.dataset import Generator
from demo.support import draw_calls


def test_calls_are_drawn_from_customers_with_lines_and_the_first_two_are_urgent() -> None:
    customers = Generator(7, datetime(2026, 3, 2, tzinfo=UTC)).customers(40)
    for i, c in enumerate(customers):  # as onboarding fills them in
        c.customer_id = f"cust-{i}"
        for j, s in enumerate(c.subscribers):
            s.subscriber_id = f"sub-{i}-{j}" if i % 3 else None  # every third customer has no line yet
    calls = draw_calls(customers, seed=7, count=10)
    assert calls == draw_calls(customers, seed=7, count=10)
    assert len(calls) == 10 and len({c.customer.key for c in calls}) == 10
    assert all(any(s.subscriber_id for s in c.customer.subscribers) for c in calls)
    assert [c.priority for c in calls[:2]] == ["urgent", "urgent"]
