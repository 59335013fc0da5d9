"""InvoiceOverdue: exactly once per invoice, when its due date has passed in the customer's time zone, however
many schedulers run."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

from billing.entrypoints.app import build_runtime
from bss_contracts import topics

from .support import of_type, unique

OVERDUE = "bss.billing.invoice.overdue"


async def test_overdue_is_emitted_once_per_invoice_with_two_schedulers_running(start_billing):
    # Two schedulers on one database, polling every 20 ms with small batches: the running service's, and a
    # second replica's (its scheduler loop only: its outbox rows are the same table, published by the relay).
    first = await start_billing(workers=True, worker_batch_size=5)
    replica = build_runtime(first.settings, clock=first.clock)
    stop = asyncio.Event()
    second_loop = asyncio.create_task(replica.scheduler.run(stop))
    try:
        await _overdue_once(first, replica)
    finally:
        stop.set()
        await second_loop
        await replica.runtime.database.close()


async def _overdue_once(first, replica) -> None:  # type: ignore[no-untyped-def]
    customer = unique("cust")
    await first.add_customer(customer)
    invoices = [await first.invoice(customer, (f"Month {i}", 1_000 + i)) for i in range(40)]
    paid = await first.invoice(customer, ("Paid in full", 500))
    await first.post("/billing/payments", {"invoice_id": paid["id"], "amount_minor": 500, "currency": "EUR"})
    later = await first.invoice(customer, ("Due later", 700), payment_terms_days=30)
    partly = invoices[0]
    await first.post("/billing/payments", {"invoice_id": partly["id"], "amount_minor": 400, "currency": "EUR"})

    async with first.probe(topics.INVOICES) as probe:
        # Due 2025-03-17: overdue from 2025-03-18 00:00 in the customer's zone (UTC here).
        first.clock.set(datetime(2025, 3, 17, 23, 59, tzinfo=UTC))
        assert (await probe.settle(0.5)) and not of_type(probe.seen, OVERDUE)
        first.clock.set(datetime(2025, 3, 18, 0, 0, tzinfo=UTC))
        # Meanwhile the scan is also triggered by hand on both replicas, at the same moment, several times.
        await asyncio.gather(*[r.scheduler.report_overdue() for r in (first.service, replica) * 3])
        events = await probe.wait_for(lambda e: e.type == OVERDUE, count=40)
        await probe.settle(1.5)  # the loops keep running: nothing more may come
        events = of_type(probe.seen, OVERDUE)

    counts = Counter(e.data["invoice_id"] for e in events)
    assert set(counts) == {i["id"] for i in invoices}
    assert set(counts.values()) == {1}
    assert paid["id"] not in counts and later["id"] not in counts
    by_id = {e.data["invoice_id"]: e.data for e in events}
    assert (by_id[partly["id"]]["balance_minor"], by_id[partly["id"]]["total_minor"]) == (600, 1_000)
    assert {(d["due_date"], d["days_past_due"]) for d in by_id.values()} == {("2025-03-17", 1)}
    reported = await first.get("/billing/invoices", customer_id=customer, status="open", limit=100)
    assert sum(1 for i in reported["items"] if i["overdue_reported_at"] is not None) == 40


async def test_overdue_follows_the_customer_time_zone(billing):
    zones = {"Pacific/Auckland": unique("nz"), "UTC": unique("utc"), "America/Los_Angeles": unique("la")}
    invoices = {}
    for zone, customer in zones.items():
        await billing.add_customer(customer, timezone=zone)
        invoices[zone] = await billing.invoice(customer, ("Fibre", 2_000))
        assert invoices[zone]["due_date"] == "2025-03-17"  # issued 2025-03-03 09:00 UTC: the 3rd everywhere

    async def scan_at(moment: datetime) -> int:
        billing.clock.set(moment)
        return int((await billing.post("/billing/invoices/overdue-scan", roles=("ops",), expect=200))["processed"])

    async with billing.probe(topics.INVOICES) as probe:
        assert await scan_at(datetime(2025, 3, 17, 10, 59, tzinfo=UTC)) == 0  # 23:59 on the 17th in Auckland
        assert await scan_at(datetime(2025, 3, 17, 11, 0, tzinfo=UTC)) == 1  # the 18th in Auckland (UTC+13)
        assert await scan_at(datetime(2025, 3, 18, 0, 0, tzinfo=UTC)) == 1  # the 18th in UTC
        assert await scan_at(datetime(2025, 3, 18, 6, 59, tzinfo=UTC)) == 0  # still the 17th in Los Angeles
        assert await scan_at(datetime(2025, 3, 18, 7, 0, tzinfo=UTC)) == 1  # the 18th there (UTC-7, DST)
        assert await scan_at(datetime(2025, 3, 25, 7, 0, tzinfo=UTC)) == 0  # never twice
        events = await probe.wait_for(lambda e: e.type == OVERDUE, count=3)
    order = [e.data["invoice_id"] for e in sorted(events, key=lambda e: e.data["detected_at"])]
    assert order == [invoices[z]["id"] for z in ("Pacific/Auckland", "UTC", "America/Los_Angeles")]
    assert [e.data["days_past_due"] for e in events] == [1, 1, 1]
