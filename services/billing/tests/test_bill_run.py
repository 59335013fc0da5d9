"""The bill run (`bill_run.close_due`) against the per-subscription path (`usage.close_due_one_by_one`).

The same mixed set of subscriptions is built in two tenants (same plans, customers, subscribers, usage, credit,
plan change, cancellation): one is closed subscription by subscription, the other by the bill run in batches of
three. Both must hold the same invoices, lines, totals, usage periods, credit use and events. Numbers are
compared as sets (the bill run numbers the irregular subscriptions of a batch first); two runners claiming at
once must number gaplessly, each cycle billed once.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from billing.adapters.tables import (
    applications,
    credit_entries,
    customer_credits,
    invoice_lines,
    invoices,
    runtime_tables,
    subscriptions,
    usage_periods,
)
from billing.service_layer import bill_run, usage

from .support import RunningBilling, customer_created, session_event, subscriber_events, unique

GB = 10**9
OUTBOX = runtime_tables.outbox


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"{text}+00:00").astimezone(UTC)


# (subscriber, time zone, plan, cycle anchor, GB used in January, credit kept before the run, change, cancel)
MIX = [
    ("s1", "UTC", "FIBRE", "2025-01-01", 3, 0, None, False),  # within the allowance
    ("s2", "Europe/Berlin", "FIBRE", "2025-01-05", 14, 0, None, False),  # over it: overage line
    ("s3", "America/Los_Angeles", "FIBRE", "2025-01-10", 25, 100_000, None, False),  # credit covers it all
    ("s4", "UTC", "FIBRE", "2025-01-12", 12, 1_000, None, False),  # credit covers part
    ("s5", "UTC", "FREE", "2025-01-15", 0, 0, None, False),  # a zero total: paid at once
    ("s6", "Asia/Tokyo", "FIBRE", "2025-01-03", 11, 0, "TURBO", False),  # plan change at once: proration
    ("s7", "UTC", "TURBO", "2025-01-07", 1, 0, None, True),  # canceled: the last cycle ends it
    ("s8", "UTC", "USD", "2025-01-02", 9, 500, None, False),  # another currency; EUR credit must not count
]
PLANS = {
    "FIBRE": {"name": "Fibre 100", "currency": "EUR", "price_minor": 3_000, "included_octets": 10 * GB,
              "overage_price_per_gb_minor": 200, "tax_rate_bp": 2000},
    "TURBO": {"name": "Turbo", "currency": "EUR", "price_minor": 5_000, "included_octets": 50 * GB,
              "overage_price_per_gb_minor": 100, "tax_rate_bp": 2000},
    "FREE": {"name": "Free", "currency": "EUR", "price_minor": 0, "included_octets": 1 * GB,
             "overage_price_per_gb_minor": 100, "tax_rate_bp": 0},
    "USD": {"name": "Fibre US", "currency": "USD", "price_minor": 2_500, "included_octets": 8 * GB,
            "overage_price_per_gb_minor": 300, "tax_rate_bp": 700},
}  # fmt: skip


async def _build(billing: RunningBilling) -> dict[str, str]:
    """The mixed set in `billing.tenant`; returns subscriber -> subscription id."""
    billing.clock.set(at("2024-12-20T10:00"))
    plans = {code: (await billing.post("/billing/plans", {"code": code, **body}))["id"] for code, body in PLANS.items()}
    events: list[Any] = []
    for subscriber, tz, *_ in MIX:
        customer = f"c-{subscriber}"
        events += [
            customer_created(customer, timezone=tz),
            *subscriber_events(subscriber, customer, f"{subscriber}@isp"),
        ]
    await billing.publish_and_wait(*events)
    for subscriber, _, _, _, _, credit, _, _ in MIX:
        if credit:
            currency = "USD" if subscriber == "s8" else "EUR"
            await billing.post("/billing/payments", {"amount_minor": credit, "currency": currency,
                                                     "customer_id": f"c-{subscriber}"})  # fmt: skip
    # EUR credit of a customer on a USD plan: it must stay untouched.
    await billing.post("/billing/payments", {"amount_minor": 700, "currency": "EUR", "customer_id": "c-s8"})
    subs: dict[str, str] = {}
    sessions: list[Any] = []
    for subscriber, _, plan, anchor, used_gb, _, change, cancel in MIX:
        billing.clock.set(at(f"{anchor}T00:30"))
        body = {"subscriber_id": subscriber, "plan_id": plans[plan], "start_date": anchor}
        subs[subscriber] = (await billing.post("/billing/subscriptions", body))["id"]
        if used_gb:
            key = f"sess-{subscriber}"
            sessions += [
                session_event("start", f"{subscriber}@isp", key, at(f"{anchor}T12:00"), 0),
                session_event("stop", f"{subscriber}@isp", key, at(f"{anchor}T20:00"), used_gb * GB - GB // 3, GB // 3),
            ]  # fmt: skip
        if change is not None:
            billing.clock.set(at(f"{anchor}T00:00").replace(day=int(anchor[-2:]) + 10))
            await billing.post(f"/billing/subscriptions/{subs[subscriber]}/change-plan", {"plan_id": plans[change]},
                               expect=200)  # fmt: skip
        if cancel:
            await billing.post(f"/billing/subscriptions/{subs[subscriber]}/cancel", expect=200)
    await billing.publish_and_wait(*sessions)
    return subs


async def _state(billing: RunningBilling, subs: dict[str, str], first_event: int) -> dict[str, Any]:
    """Everything the close wrote for the tenant, with ids replaced by what they name."""
    tenant = billing.tenant
    by_sub = {v: k for k, v in subs.items()}
    async with billing.service.deps.database.transaction() as session:
        invoice_rows = (await session.execute(select(invoices).where(invoices.c.tenant_id == tenant))).all()
        names = {i.id: f"{by_sub.get(i.subscription_id)}:{i.period_start}" for i in invoice_rows}
        numbers = sorted(i.number for i in invoice_rows if i.number is not None)

        def plain(row: Any, *drop: str) -> dict[str, Any]:
            out = {k: v for k, v in row._mapping.items() if k not in {"id", "tenant_id", "created_at", *drop}}
            for k in ("invoice_id", "reference_id", "source_id"):
                if k in out:  # an invoice by what it bills; another id (a payment's) differs by tenant
                    out[k] = names.get(out[k], "other")
            if "subscription_id" in out:
                out["subscription_id"] = by_sub.get(out["subscription_id"])
            return out

        def each(rows: Any) -> list[str]:
            return sorted(repr(sorted(plain(r, "number").items())) for r in rows)

        lines = (await session.execute(select(invoice_lines).where(invoice_lines.c.tenant_id == tenant))).all()
        periods = (await session.execute(select(usage_periods).where(usage_periods.c.tenant_id == tenant))).all()
        entries = (await session.execute(select(credit_entries).where(credit_entries.c.tenant_id == tenant))).all()
        applied = (await session.execute(select(applications).where(applications.c.tenant_id == tenant))).all()
        credits = (await session.execute(select(customer_credits).where(customer_credits.c.tenant_id == tenant))).all()
        subs_now = (await session.execute(select(subscriptions).where(subscriptions.c.tenant_id == tenant))).all()
        outbox = (
            await session.execute(
                select(OUTBOX).where(OUTBOX.c.tenant_id == tenant, OUTBOX.c.id > first_event).order_by(OUTBOX.c.id)
            )
        ).all()
    events: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for row in outbox:
        data = json.loads(row.payload)["data"]
        if "invoice_id" in data:
            data["invoice_id"] = names.get(data["invoice_id"], "other")
        if "subscription_id" in data:
            data["subscription_id"] = by_sub.get(data["subscription_id"])
        for k in ("invoice_number", "plan_id", "previous_plan_id"):  # numbers compared as a set; plan ids differ
            data.pop(k, None)
        owner = data.get("subscriber_id") or data.get("customer_id")
        events.setdefault(owner, []).append((row.event_type, data))
    return {
        "numbers": numbers,
        "invoices": each(invoice_rows),
        "lines": each(lines),
        "periods": each(periods),
        "credit_entries": each(entries),
        "applications": each(applied),
        "credits": each(credits),
        "subscriptions": sorted((by_sub[s.id], s.status, s.next_cycle, s.next_close_at, s.end_date) for s in subs_now),
        "events": events,
    }


async def _last_event(billing: RunningBilling) -> int:
    async with billing.service.deps.database.transaction() as session:
        return int((await session.execute(select(func.coalesce(func.max(OUTBOX.c.id), 0)))).scalar_one())


async def test_the_bill_run_issues_what_the_per_subscription_path_issues(shared_billing: RunningBilling) -> None:
    one_by_one, batched = shared_billing.for_tenant(unique("isp")), shared_billing.for_tenant(unique("isp"))
    built = {b.tenant: await _build(b) for b in (one_by_one, batched)}
    deps = shared_billing.service.deps
    shared_billing.clock.set(at("2025-03-20T12:00"))  # two cycles of each are due (s7 ended after its first)
    first = {b.tenant: await _last_event(b) for b in (one_by_one, batched)}
    closed_one_by_one = await usage.close_due_one_by_one(deps, tenant_id=one_by_one.tenant)
    closed_batched = await bill_run.close_due(deps, tenant_id=batched.tenant, batch_size=3)
    assert closed_one_by_one == closed_batched == 15  # 8 subscriptions x 2 cycles, s7 ended after one

    expected = await _state(one_by_one, built[one_by_one.tenant], first[one_by_one.tenant])
    actual = await _state(batched, built[batched.tenant], first[batched.tenant])
    assert expected["numbers"] == [f"INV-2025-{n:06d}" for n in range(1, 16)]  # gapless, each once
    for key in expected:
        assert actual[key] == expected[key], key
    kinds = {line.split("'kind', '")[1].split("'")[0] for line in actual["lines"]}
    assert kinds == {"subscription", "usage_overage", "proration"}  # the mix covered what it claims to
    types = [t for evs in actual["events"].values() for t, _ in evs]
    assert types.count("bss.billing.invoice.issued") == 15
    assert types.count("bss.billing.invoice.paid") >= 3  # s3 (credit), s5 (zero) twice
    # Nothing left to do, for either path.
    assert await bill_run.close_due(deps, tenant_id=one_by_one.tenant) == 0
    assert await usage.close_due_one_by_one(deps, tenant_id=batched.tenant) == 0


async def test_two_runners_claiming_at_once_number_gaplessly(shared_billing: RunningBilling) -> None:
    billing = shared_billing.for_tenant(unique("isp"))
    billing.clock.set(at("2024-12-20T10:00"))
    plan = (await billing.post("/billing/plans", {"code": "FIBRE", **PLANS["FIBRE"]}))["id"]
    events: list[Any] = []
    count = 20
    for i in range(count):
        events += [customer_created(f"c{i}"), *subscriber_events(f"s{i}", f"c{i}", f"s{i}@isp")]
    await billing.publish_and_wait(*events)
    billing.clock.set(at("2025-01-01T00:30"))
    for i in range(count):
        await billing.post("/billing/subscriptions", {"subscriber_id": f"s{i}", "plan_id": plan,
                                                      "start_date": "2025-01-01"})  # fmt: skip
    billing.clock.set(at("2025-02-01T12:00"))
    deps = shared_billing.service.deps
    done = await asyncio.gather(*(bill_run.close_due(deps, tenant_id=billing.tenant, batch_size=3) for _ in range(2)))
    assert sum(done) == count and min(done) > 0  # both runners closed cycles
    async with deps.database.transaction() as session:
        rows = (await session.execute(select(invoices.c.number, invoices.c.subscription_id)
                                      .where(invoices.c.tenant_id == billing.tenant))).all()  # fmt: skip
    assert sorted(r.number for r in rows) == [f"INV-2025-{n:06d}" for n in range(1, count + 1)]
    assert len({r.subscription_id for r in rows}) == count  # one invoice per subscription, none twice
