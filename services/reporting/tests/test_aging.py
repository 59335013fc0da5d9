"""GET /billing/reports/aging/by-partner and /by-region: open balances by group and currency, bucketed by
days past due as of a date; balances as they stood at the end of that date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from .reporting_support import Harness, at, credit_note, customer, invoice, new_tenant, partner, payment, voided

AS_OF = date(2025, 3, 31)
EMPTY = {"current": 0, "1_30_days": 0, "31_60_days": 0, "61_90_days": 0, "over_90_days": 0}


def days_before(n: int) -> date:
    return AS_OF - timedelta(days=n)


async def seed_receivables(reporting: Harness, tenant: str) -> None:
    def inv(invoice_id: str, balance: int, due: date, partner: str | None, country: str | None, **kw):  # type: ignore[no-untyped-def]
        return (invoice(invoice_id, "c1", balance, due=due, partner_id=partner, country=country, **kw), tenant)

    await reporting.publish(
        (customer("c1", "Acme"), tenant),
        inv("a1", 10_000, AS_OF + timedelta(days=5), "p1", "DE"),  # not due yet: current
        inv("a2", 2_500, AS_OF, "p1", "DE"),  # due that very day: current
        inv("a3", 12_345, days_before(1), "p1", "DE"),  # 1 day past due
        inv("a4", 100, days_before(30), "p1", "FR"),  # 30
        inv("a5", 200, days_before(31), "p1", "FR"),  # 31
        inv("a6", 300, days_before(60), "p1", "DE"),  # 60
        inv("a7", 400, days_before(61), "p2", "DE"),  # 61
        inv("a8", 500, days_before(90), "p2", "DE"),  # 90
        inv("a9", 600, days_before(91), "p2", "DE"),  # 91
        inv("a10", 99_999, days_before(16), "p2", "US", currency="USD"),
        inv(
            "a11", 1_234, AS_OF + timedelta(days=30), "p1", "DE", currency="KWD", issued=days_before(1)
        ),  # 3 decimals: 1.234 KWD
        # Paid in full the first instant after as_of: still owed as of it.
        inv("a13", 5_000, days_before(16), "p1", "DE"),
        (payment("a13", "c1", 5_000, datetime(2025, 4, 1, tzinfo=UTC), balance_after=0), tenant),
        # Partly paid in the last second of as_of: 3,000 left as of it.
        inv("a14", 4_000, days_before(21), "p1", "DE"),
        (payment("a14", "c1", 1_000, datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC)), tenant),
        # Issued after as_of: not part of it.
        inv("a15", 8_000, date(2025, 4, 25), "p1", "DE", issued=date(2025, 4, 10)),
        # Voided after as_of: owed as of it.
        inv("a17", 900, days_before(11), "p1", "FR"),
        (voided("a17", "c1", 900, datetime(2025, 4, 3, 10, tzinfo=UTC)), tenant),
        # A credit note before as_of takes 100 off.
        inv("a18", 1_100, days_before(6), "p1", "DE"),
        (credit_note("a18", "c1", 100, datetime(2025, 3, 28, tzinfo=UTC)), tenant),
        # Voided before as_of: gone.
        inv("a19", 777, days_before(3), "p1", "DE"),
        (voided("a19", "c1", 777, datetime(2025, 3, 29, tzinfo=UTC)), tenant),
        # No partner or country on the invoice: its customer's, although the customer is known only later.
        (invoice("a12", "c9", 700, due=days_before(6)), tenant),
        (customer("c9", "Late Customer", partner_id="p2", billing_country="AT"), tenant),
        # Not yet due today (relative to the real date): current in the report as of today.
        inv("a20", 4_200, at(days=14).date(), "p1", "DE", issued=at().date()),
    )


def row(  # type: ignore[type-arg]
    group_key: str,
    group: str,
    currency: str,
    count: int,
    buckets: dict[str, int],
    exp: int = 2,
    name: str | None = None,
) -> dict:
    b = EMPTY | buckets
    total = sum(b.values())
    return {
        group_key: group,
        **({"partner_name": name} if group_key == "partner_id" else {}),
        "currency": currency,
        "invoice_count": count,
        "total_outstanding": total / 10**exp,
        "total_outstanding_minor": total,
        "buckets": {k: v / 10**exp for k, v in b.items()},
        "buckets_minor": b,
    }


async def test_aging_by_partner_as_of_a_past_date_is_exact_to_the_cent(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_receivables(reporting, tenant)

    rows = await reporting.ok("aging/by-partner", tenant, "finance", as_of=AS_OF.isoformat())

    assert rows == [
        row("partner_id", "p1", "EUR", 10, {"current": 12_500, "1_30_days": 22_345, "31_60_days": 500}),
        row("partner_id", "p1", "KWD", 1, {"current": 1_234}, exp=3),
        row("partner_id", "p2", "EUR", 4, {"1_30_days": 700, "61_90_days": 900, "over_90_days": 600}),
        row("partner_id", "p2", "USD", 1, {"1_30_days": 99_999}),
    ]
    assert rows[1]["total_outstanding"] == 1.234
    assert rows[3]["buckets"]["1_30_days"] == 999.99


async def test_aging_by_region_as_of_a_past_date(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_receivables(reporting, tenant)

    rows = await reporting.ok("aging/by-region", tenant, "collections", as_of=AS_OF.isoformat())

    assert rows == [
        row("region", "AT", "EUR", 1, {"1_30_days": 700}),
        row(
            "region",
            "DE",
            "EUR",
            10,
            {"current": 12_500, "1_30_days": 21_345, "31_60_days": 300, "61_90_days": 900, "over_90_days": 600},
        ),
        row("region", "DE", "KWD", 1, {"current": 1_234}, exp=3),
        row("region", "FR", "EUR", 3, {"1_30_days": 1_000, "31_60_days": 200}),
        row("region", "US", "USD", 1, {"1_30_days": 99_999}),
    ]


async def test_aging_as_of_today_uses_todays_balances(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_receivables(reporting, tenant)

    rows = await reporting.ok("aging/by-partner", tenant, "finance")

    # Today everything from 2025 is over 90 days past due; a13 is paid, a17 and a19 voided, a15 now issued,
    # a20 not yet due.
    p1_eur = 10_000 + 2_500 + 12_345 + 100 + 200 + 300 + 3_000 + 8_000 + 1_000
    assert rows == [
        row("partner_id", "p1", "EUR", 10, {"current": 4_200, "over_90_days": p1_eur}),
        row("partner_id", "p1", "KWD", 1, {"over_90_days": 1_234}, exp=3),
        row("partner_id", "p2", "EUR", 4, {"over_90_days": 400 + 500 + 600 + 700}),
        row("partner_id", "p2", "USD", 1, {"over_90_days": 99_999}),
    ]


async def test_partner_change_of_the_customer_moves_invoices_without_their_own_partner(reporting: Harness) -> None:
    tenant = new_tenant()
    await reporting.publish(
        (customer("c1", "Acme", partner_id="p1", billing_country="DE"), tenant),
        (invoice("b1", "c1", 1_000, due=AS_OF), tenant),  # takes p1 / DE from the customer
        (invoice("b2", "c1", 2_000, due=AS_OF, partner_id="p9", country="NL"), tenant),  # its own
    )
    from .reporting_support import customer_updated

    await reporting.publish(
        (
            customer_updated("c1", "Acme", datetime(2025, 6, 1, tzinfo=UTC), partner_id="p2", billing_country="FR"),
            tenant,
        )
    )
    rows = await reporting.ok("aging/by-partner", tenant, "finance", as_of=AS_OF.isoformat())
    assert [(r["partner_id"], r["total_outstanding_minor"]) for r in rows] == [("p2", 1_000), ("p9", 2_000)]
    # An older update arriving late changes nothing.
    await reporting.publish(
        (
            customer_updated("c1", "Acme", datetime(2025, 5, 1, tzinfo=UTC), partner_id="p3", billing_country="IT"),
            tenant,
        )
    )
    rows = await reporting.ok("aging/by-region", tenant, "finance", as_of=AS_OF.isoformat())
    assert [(r["region"], r["total_outstanding_minor"]) for r in rows] == [("FR", 1_000), ("NL", 2_000)]


async def test_bad_as_of_is_422(reporting: Harness) -> None:
    response = await reporting.get("aging/by-partner", new_tenant(), "finance", as_of="31/03/2025")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "as_of"]


async def test_the_aging_rollup_equals_the_sum_over_open_invoices(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_receivables(reporting, tenant)
    rollup = await reporting.rows(
        "SELECT partner_key, country_key, currency, due_date, invoice_count, balance_minor "
        "FROM readmodel.aging_balances WHERE tenant_id = :t ORDER BY 1, 2, 3, 4",
        t=tenant,
    )
    invoices = await reporting.rows(
        "SELECT coalesce(partner_id, ''), coalesce(billing_country, ''), currency, due_date, count(*), "
        "sum(balance_minor) FROM readmodel.invoices WHERE tenant_id = :t AND balance_minor > 0 "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        t=tenant,
    )
    assert [tuple(r) for r in rollup] == [tuple(r) for r in invoices]
    # every day's changes add up to today's sums
    changes = await reporting.rows(
        "SELECT partner_key, country_key, currency, due_date, sum(invoice_count), sum(balance_minor) "
        "FROM readmodel.aging_changes WHERE tenant_id = :t GROUP BY 1, 2, 3, 4 HAVING sum(invoice_count) <> 0 "
        "OR sum(balance_minor) <> 0 ORDER BY 1, 2, 3, 4",
        t=tenant,
    )
    assert [tuple(r) for r in changes] == [tuple(r) for r in invoices]


async def test_aging_by_partner_rows_carry_the_partners_newest_name(reporting: Harness) -> None:
    tenant, other = new_tenant(), new_tenant()
    renamed = datetime(2025, 2, 1, tzinfo=UTC)
    await reporting.publish(
        (customer("c1", "Acme"), tenant),
        (invoice("n1", "c1", 1_000, due=AS_OF, partner_id="p1", country="DE"), tenant),
        (invoice("n2", "c1", 2_000, due=AS_OF, partner_id="p2", country="DE"), tenant),
        (invoice("n3", "c1", 3_000, due=AS_OF, partner_id="p3", country="DE"), tenant),
        # The rename arrives before the creation: the newer state (by updated_at) stays.
        (partner("p1", "FiberCo", updated_at=renamed, created=False), tenant),
        (partner("p1", "FiberCo Resellers"), tenant),
        (partner("p2", "Agents Ltd"), tenant),
        (partner("p3", "Another tenant's name"), other),  # p3 has no name in this tenant
    )

    rows = await reporting.ok("aging/by-partner", tenant, "finance", as_of=AS_OF.isoformat())

    assert [(r["partner_id"], r["partner_name"], r["total_outstanding_minor"]) for r in rows] == [
        ("p1", "FiberCo", 1_000),
        ("p2", "Agents Ltd", 2_000),
        ("p3", None, 3_000),
    ]
