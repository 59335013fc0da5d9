"""GET /billing/reports/billing-summary: invoiced, collected, credited, voided, outstanding and new overdue per
month (UTC) and currency, from the invoice events sent through the pipeline."""

from __future__ import annotations

from datetime import UTC, date, datetime

from .reporting_support import Harness, credit_note, customer, invoice, new_tenant, overdue, paid, payment, voided


def day(month: int, d: int) -> datetime:
    return datetime(2025, month, d, 12, tzinfo=UTC)


async def test_billing_summary_per_month_and_currency_equals_what_was_sent(reporting: Harness) -> None:
    tenant = new_tenant()
    await reporting.publish(
        (customer("c1", "Acme"), tenant),
        (invoice("b1", "c1", 10_000, due=date(2025, 2, 9), issued=date(2025, 1, 10)), tenant),
        (payment("b1", "c1", 4_000, day(1, 20)), tenant),
        (paid("b1", "c1", 10_000, day(2, 5)), tenant),  # the other 6,000
        (invoice("b2", "c1", 5_000, due=date(2025, 2, 14), issued=date(2025, 1, 15)), tenant),
        (credit_note("b2", "c1", 1_000, day(2, 10)), tenant),
        (overdue("b2", "c1", 4_000, date(2025, 2, 14), day(2, 20)), tenant),
        (voided("b2", "c1", 4_000, day(3, 3)), tenant),
        (invoice("b3", "c1", 2_000, due=date(2025, 3, 1), issued=date(2025, 2, 1)), tenant),
        (invoice("j1", "c1", 7_000, due=date(2025, 3, 3), issued=date(2025, 2, 3), currency="JPY"), tenant),
    )

    rows = await reporting.ok("billing-summary", tenant, "finance", **{"from": "2025-01", "to": "2025-03"})

    def row(month: str, cur: str, inv: int = 0, col: int = 0, cred: int = 0, void: int = 0, out: int = 0,
            new: int = 0, n: int = 0) -> tuple:  # type: ignore[type-arg]  # fmt: skip
        return (month, cur, inv, col, cred, void, out, new, n)

    got = [
        (r["month"], r["currency"], r["invoiced_minor"], r["collected_minor"], r["credited_minor"], r["voided_minor"],
         r["outstanding_minor"], r["new_overdue_minor"], r["new_overdue_count"])
        for r in rows
    ]  # fmt: skip
    assert got == [
        row("2025-01", "EUR", inv=15_000, col=4_000, out=11_000),
        row("2025-02", "EUR", inv=2_000, col=6_000, cred=1_000, out=6_000, new=5_000, n=1),
        row("2025-02", "JPY", inv=7_000, out=7_000),
        row("2025-03", "EUR", void=4_000, out=2_000),
        row("2025-03", "JPY", out=7_000),
    ]
    assert rows[0]["invoiced"] == 150.0 and rows[2]["invoiced"] == 7000.0  # major units of each currency

    only_march = await reporting.ok("billing-summary", tenant, "finance", **{"from": "2025-03", "to": "2025-03"})
    assert [(r["currency"], r["outstanding_minor"]) for r in only_march] == [("EUR", 2_000), ("JPY", 7_000)]


async def test_billing_summary_bad_input_and_roles(reporting: Harness) -> None:
    tenant = new_tenant()
    backwards = await reporting.get("billing-summary", tenant, "finance", **{"from": "2025-03", "to": "2025-01"})
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "to"]
    bad = await reporting.get("billing-summary", tenant, "finance", **{"from": "2025-13"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "from"]
    assert (await reporting.get("billing-summary", tenant, "collections")).status_code == 403
    assert await reporting.ok("billing-summary", tenant, "finance") == []
