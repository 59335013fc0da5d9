"""GET /billing/reports/blocked-customers: suspended subscribers whose customer owes money, with the seed's
next action and priority, sorted by priority then days blocked."""

from __future__ import annotations

from datetime import timedelta

from .reporting_support import (
    Harness,
    at,
    customer,
    dunning_completed,
    dunning_started,
    invoice,
    new_tenant,
    overdue,
    paid,
    payment,
    status,
    subscriber,
    voided,
)


# Suspended N days and one hour ago: N whole days blocked, far from a day boundary.
def suspended(days: int):  # type: ignore[no-untyped-def]
    return at(days=-days, hours=-1)


TODAY = at().date()


async def seed_collections_book(reporting: Harness, tenant: str) -> None:
    """Six suspended subscribers, one active, one reinstated; balances in EUR, JPY and USD."""
    events = [
        # An invoice before its customer: the name is filled in whichever arrives first.
        (invoice("i5", "c5", 7_000_000, due=TODAY - timedelta(days=5), currency="USD"), tenant),
        (customer("c1", "Acme GmbH", email="ap@acme.test", phone="+49 30 1234"), tenant),
        (customer("c2", "Bob Builder"), tenant),
        (customer("c3", "Carol"), tenant),
        (customer("c4", "Dave KK"), tenant),
        (customer("c5", "Eve Corp"), tenant),
        (customer("c6", "Frank"), tenant),
        (customer("c7", "Grace"), tenant),
    ]
    subs = [
        ("s1", "c1"),
        ("s2", "c2"),
        ("s3", "c3"),
        ("s4", "c4"),
        ("s5", "c5"),
        ("s6", "c1"),
        ("s7", "c2"),
        ("s8", "c6"),
        ("s9", "c7"),
    ]
    for sid, cid in subs:
        events += [
            (subscriber(sid, cid, f"user-{sid}"), tenant),
            (status("activate", sid, cid, f"user-{sid}", at(days=-200)), tenant),
        ]
    for sid, cid, days in [("s1", "c1", 95), ("s2", "c2", 45), ("s3", "c3", 45), ("s4", "c4", 20), ("s5", "c5", 3),
                           ("s7", "c2", 50), ("s8", "c6", 10), ("s9", "c7", 10)]:  # fmt: skip
        events.append((status("suspend", sid, cid, f"user-{sid}", suspended(days), reason="non-payment"), tenant))
    events += [
        (status("reinstate", "s7", "c2", "user-s7", at(days=-40)), tenant),
        # c1 owes 1,000.00 + 300.00 EUR; one invoice is 100 days past due, the other not due yet.
        (invoice("i1", "c1", 120_050, due=TODAY - timedelta(days=100)), tenant),
        (overdue("i1", "c1", 120_050, TODAY - timedelta(days=100), at(days=-99)), tenant),  # billing's verdict
        (payment("i1", "c1", 20_050, at(days=-90)), tenant),
        (invoice("i2", "c1", 30_000, due=TODAY + timedelta(days=10)), tenant),
        (invoice("i3", "c2", 2_500_000, due=TODAY - timedelta(days=50)), tenant),  # 25,000.00 EUR
        (invoice("i4", "c3", 50_000, due=TODAY - timedelta(days=50)), tenant),  # 500.00 EUR
        (invoice("i6", "c4", 15_000, due=TODAY - timedelta(days=25), currency="JPY"), tenant),  # 15,000 JPY
        (overdue("i6", "c4", 15_000, TODAY - timedelta(days=25), at(days=-24), currency="JPY"), tenant),
        # 10.00 EUR past its date, but billing has not declared it overdue (its worker, the customer's time zone)
        (invoice("i7", "c4", 1_000, due=TODAY - timedelta(days=25)), tenant),
        (invoice("i8", "c6", 4_000, due=TODAY - timedelta(days=30)), tenant),
        (paid("i8", "c6", 4_000, at(days=-1)), tenant),
        (invoice("i9", "c7", 9_000, due=TODAY - timedelta(days=30)), tenant),
        (voided("i9", "c7", 9_000, at(days=-1)), tenant),
        (dunning_started("x1", "i3", "c2", at(days=-40)), tenant),
        (dunning_started("x2", "i4", "c3", at(days=-40)), tenant),
        (dunning_completed("x2", "i4", "c3", at(days=-30)), tenant),
    ]
    await reporting.publish(*events)


def brief(rows: list[dict]) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            r["subscriber_id"],
            r["currency"],
            r["outstanding_balance_minor"],
            r["days_blocked"],
            r["next_action"],
            r["priority"],
        )
        for r in rows
    ]


async def test_lists_suspended_debtors_with_next_action_and_priority_by_the_seeds_rules(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_collections_book(reporting, tenant)

    rows = await reporting.ok("blocked-customers", tenant, "collections")

    assert brief(rows) == [
        ("s1", "EUR", 130_000, 95, "escalate_to_collections", "critical"),
        ("s5", "USD", 7_000_000, 3, "monitor", "critical"),  # 70,000.00 USD > 50,000
        ("s2", "EUR", 2_500_000, 45, "collections_call", "high"),  # 25,000.00 > 10,000 and > 20,000
        ("s3", "EUR", 50_000, 45, "payment_reminder", "medium"),  # 30+ days but only 500.00
        ("s4", "JPY", 15_000, 20, "payment_reminder", "medium"),  # 15,000 JPY > 5,000 (major units)
        ("s4", "EUR", 1_000, 20, "payment_reminder", "low"),  # currencies are never added
    ]
    first = rows[0]
    assert first == {
        "subscriber_id": "s1",
        "username": "user-s1",
        "customer_id": "c1",
        "customer_name": "Acme GmbH",
        "email": "ap@acme.test",
        "phone": "+49 30 1234",
        "suspended_at": first["suspended_at"],
        "suspension_reason": "non-payment",
        "days_blocked": 95,
        "overdue_invoices": 1,
        "open_invoices": 2,
        "currency": "EUR",
        "outstanding_balance": 1300.0,
        "outstanding_balance_minor": 130_000,
        "next_action": "escalate_to_collections",
        "priority": "critical",
        "in_dunning": False,
    }
    by_id = {(r["subscriber_id"], r["currency"]): r for r in rows}
    assert by_id["s5", "USD"]["customer_name"] == "Eve Corp"
    assert by_id["s5", "USD"]["outstanding_balance"] == 70000.0
    assert by_id["s2", "EUR"]["in_dunning"] is True
    assert by_id["s3", "EUR"]["in_dunning"] is False  # its campaign completed
    assert by_id["s4", "JPY"]["outstanding_balance"] == 15000.0
    # "overdue" is billing's verdict (InvoiceOverdue), not reporting's own reading of the due date
    assert (by_id["s4", "JPY"]["overdue_invoices"], by_id["s4", "EUR"]["overdue_invoices"]) == (1, 0)


async def test_days_blocked_filters_and_zero_balances(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_collections_book(reporting, tenant)

    at_least_30 = await reporting.ok("blocked-customers", tenant, "finance", min_days_blocked=30)
    assert [r["subscriber_id"] for r in at_least_30] == ["s1", "s2", "s3"]
    at_most_44 = await reporting.ok("blocked-customers", tenant, "finance", max_days_blocked=44)
    assert [(r["subscriber_id"], r["currency"]) for r in at_most_44] == [("s5", "USD"), ("s4", "JPY"), ("s4", "EUR")]
    exactly_45 = await reporting.ok("blocked-customers", tenant, "support", min_days_blocked=45, max_days_blocked=45)
    assert [r["subscriber_id"] for r in exactly_45] == ["s2", "s3"]

    # Paid-up (s8) or voided (s9) debt: only with include_zero_balance, as one row without a currency.
    everyone = await reporting.ok("blocked-customers", tenant, "support", include_zero_balance="true")
    zero = [r for r in everyone if r["currency"] is None]
    assert [(r["subscriber_id"], r["outstanding_balance_minor"], r["next_action"], r["priority"]) for r in zero] == [
        ("s8", 0, "monitor", "low"),
        ("s9", 0, "monitor", "low"),
    ]
    assert len(everyone) == 8


async def test_bad_filters_are_422_with_the_field(reporting: Harness) -> None:
    tenant = new_tenant()
    response = await reporting.get("blocked-customers", tenant, "finance", min_days_blocked=30, max_days_blocked=10)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "max_days_blocked"]
    response = await reporting.get("blocked-customers", tenant, "finance", min_days_blocked=-1)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "min_days_blocked"]
    response = await reporting.get("blocked-customers", tenant, "finance", min_days_blocked="many")
    assert response.status_code == 422
