"""GET /billing/reports/blocked-customers: suspended subscribers whose customer owes money, with the seed's
next action and priority, sorted by priority then days blocked."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bss_contracts.money import minor_unit_exponent, to_major
from reporting.adapters.blocked_customers import Params, next_action_sql, priority_sql
from reporting.adapters.settings import load_thresholds
from reporting.domain import collections

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


# ---------------------------------------------------------------- the read model equals the old computation

# The report as it was computed before the customer_balances read model: the customer's invoices with a positive
# balance summed per currency at request time, then days blocked, next action and priority in Python.
BY_INVOICES = """
    SELECT s.subscriber_id, s.username, s.customer_id, s.suspended_at, s.suspension_reason,
           c.name AS customer_name, c.email, c.phone, b.currency, coalesce(b.open_invoices, 0) AS open_invoices,
           coalesce(b.overdue_invoices, 0) AS overdue_invoices, coalesce(b.balance, 0)::bigint AS balance_minor,
           EXISTS (SELECT 1 FROM readmodel.dunning_executions d WHERE d.tenant_id = s.tenant_id
                   AND d.customer_id = s.customer_id AND d.status = 'active') AS in_dunning
    FROM readmodel.subscribers s
    LEFT JOIN readmodel.customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
    {join} (
        SELECT i.currency, count(*) AS open_invoices, count(*) FILTER (WHERE i.overdue_at <= :now) AS overdue_invoices,
               sum(i.balance_minor) AS balance
        FROM readmodel.invoices i
        WHERE i.tenant_id = s.tenant_id AND i.customer_id = s.customer_id AND i.balance_minor > 0
        GROUP BY i.currency
    ) b ON true
    WHERE s.tenant_id = :tenant AND s.status = 'suspended' AND s.suspended_at <= :now
"""


async def by_invoices(reporting: Harness, tenant: str, now: datetime, include_zero: bool) -> list[dict[str, Any]]:
    sql = BY_INVOICES.format(join="LEFT JOIN LATERAL" if include_zero else "JOIN LATERAL")
    thresholds, _ = await _thresholds(reporting, tenant)
    out = []
    for r in await reporting.rows(sql, tenant=tenant, now=now):
        days = collections.days_blocked(r.suspended_at, now)
        balance = collections.major_units(r.balance_minor, r.currency) if r.currency else Decimal(0)
        out.append(
            {
                "subscriber_id": r.subscriber_id, "username": r.username, "customer_id": r.customer_id,
                "customer_name": r.customer_name, "email": r.email, "phone": r.phone,
                "suspended_at": r.suspended_at, "suspension_reason": r.suspension_reason, "days_blocked": days,
                "overdue_invoices": r.overdue_invoices, "open_invoices": r.open_invoices, "currency": r.currency,
                "outstanding_balance": to_major(r.balance_minor, r.currency) if r.currency else 0.0,
                "outstanding_balance_minor": r.balance_minor,
                "next_action": collections.next_action(days, balance).value,
                "priority": collections.priority(days, balance, thresholds), "in_dunning": r.in_dunning,
            }
        )  # fmt: skip
    out.sort(key=lambda r: (collections.PRIORITY_ORDER[r["priority"]], -r["days_blocked"], r["subscriber_id"],
                            r["currency"] or ""))  # fmt: skip
    for r in out:
        r["priority"] = r["priority"].value
    return out


async def _thresholds(reporting: Harness, tenant: str) -> tuple[collections.PriorityThresholds, Any]:
    async with reporting.service.runtime.database.engine.connect() as conn:
        return await load_thresholds(conn, tenant)


@asynccontextmanager
async def clock_at(reporting: Harness, now: datetime) -> AsyncIterator[None]:
    """The reports' clock set to `now` (the tests of one module run one at a time on the shared service)."""
    state = reporting.app.state
    reports = state.reports
    state.reports = dataclasses.replace(reports, clock=lambda: now)
    try:
        yield
    finally:
        state.reports = reports


async def test_the_balances_read_model_answers_what_summing_the_invoices_answers(reporting: Harness) -> None:
    """At several clocks (also before billing declared an invoice overdue, and at day boundaries of the days
    blocked), with the default and with a tenant's own thresholds, with and without zero balances: the report
    from customer_balances equals the one computed over the invoices, field by field and in the same order."""
    tenant = new_tenant()
    await seed_collections_book(reporting, tenant)
    # More rows at each priority level's edges: balances just over and at each threshold, many currencies.
    events: list[Any] = []
    for n, (balance, currency, days) in enumerate([
        (5_000_00, "EUR", 29), (5_000_01, "EUR", 29), (1_000_000, "EUR", 30), (1_000_001, "EUR", 31),
        (2_000_001, "GBP", 1), (5_000_000, "JPY", 59), (50_001, "JPY", 60), (50_000_001, "KWD", 2),
        (50_000_000, "KWD", 89), (1, "USD", 90), (2_000_000, "CHF", 14), (3, "EUR", 13),
    ]):  # fmt: skip
        sid, cid = f"e{n}", f"ce{n}"
        events += [
            (customer(cid, f'Edge {n} "quoted" \\ ünïcode'), tenant),
            (subscriber(sid, cid, f"user-{sid}"), tenant),
            (status("suspend", sid, cid, f"user-{sid}", at(days=-days, minutes=-n), reason="non-payment"), tenant),
            (invoice(f"ie{n}", cid, balance, due=TODAY - timedelta(days=40), currency=currency), tenant),
        ]
        if n % 3 == 0:  # declared overdue 2 hours from now: not overdue yet at the test's clock
            events.append((overdue(f"ie{n}", cid, balance, TODAY, at(hours=2), currency=currency), tenant))
    await reporting.publish(*events)

    async def both(now: datetime, **params: Any) -> None:
        async with clock_at(reporting, now):
            rows = await reporting.ok("blocked-customers", tenant, "finance", **params)
        expected = await by_invoices(reporting, tenant, now, params.get("include_zero_balance") == "true")
        for row in rows:
            row["suspended_at"] = datetime.fromisoformat(row["suspended_at"])
        assert rows == expected
        assert len(rows) > 10

    for now in (at(), at(hours=3), at(days=1, minutes=-30), at(days=16, hours=1), at(days=31), at(days=400)):
        await both(now)
        await both(now, include_zero_balance="true")
    mine = {
        "critical": [{"min_days": 120}, {"balance_over": "49999.99"}],
        "high": [{"min_days": 31, "balance_over": 1}],
        "medium": [{"balance_over": "0.02"}, {"min_days": 14}],
    }
    put = await reporting.client.put(
        "/billing/reports/settings/priority-thresholds", json=mine, headers=reporting.headers(tenant, "admin")
    )
    assert put.status_code == 200, put.text
    for now in (at(), at(days=30, hours=1), at(days=100)):
        await both(now)
        await both(now, include_zero_balance="true")


async def test_priority_and_next_action_in_sql_are_the_domain_functions(reporting: Harness) -> None:
    """Every (days, balance, currency) near every threshold: the SQL expressions give what
    `collections.priority` and `collections.next_action` give, for the defaults and for other thresholds."""
    own = collections.PriorityThresholds(
        critical=(collections.PriorityRule(7, Decimal("0.005")),),
        high=(collections.PriorityRule(None, Decimal("123.456")), collections.PriorityRule(3, None)),
        medium=(),
    )
    days = sorted({0, 1, 13, 14, 15, 29, 30, 31, 59, 60, 61, 89, 90, 91, 200, 2, 3, 6, 7, 8})
    amounts = [0, 1, 4, 5, 6, 99, 100, 101, 12345, 123456, 123457, 500000, 500001, 1_000_000, 1_000_001]
    amounts += [2_000_000, 2_000_001, 5_000_000, 5_000_001, 10_000_000, 10_000_001, 20_000_001, 50_000_001]
    cases = [(d, a, c) for d in days for a in amounts for c in ("EUR", "JPY", "KWD", "CLF")]
    async with reporting.service.runtime.database.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        for thresholds in (collections.DEFAULT_THRESHOLDS, own):
            params = Params([c[0] for c in cases], [c[1] for c in cases], [minor_unit_exponent(c[2]) for c in cases])
            priority = priority_sql("x.d", "x.b", "x.e", thresholds, params)
            action = next_action_sql("x.d", "x.b", "x.e", params)
            got = await driver.fetch(
                f"SELECT {priority} AS p, {action} AS a FROM unnest($1::int[], $2::bigint[], $3::int[]) "
                "WITH ORDINALITY AS x(d, b, e, n) ORDER BY x.n",
                *params.values,
            )
            for (d, amount, currency), row in zip(cases, got, strict=True):
                balance = collections.major_units(amount, currency)
                expected = collections.priority(d, balance, thresholds)
                action = collections.next_action(d, balance).value
                assert (row["p"], row["a"]) == (collections.PRIORITY_ORDER[expected], action), (d, amount, currency)
