"""Billing's bulk kinds through HTTP, on one service per module (real PostgreSQL and Kafka): change plan, void
drafts, credit notes from a list, usage reset; each with a refused item that fails alone (its savepoint rolled
back, the chunk's other items committed with their events) and the operation's `BulkOperationCompleted`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from billing.domain.usage import GB
from bss_contracts import topics
from bss_testkit.events import eventually

from .support import RunningBilling, of_type, session_event, unique

pytestmark = pytest.mark.timeout(180)
COMPLETED = "bss.billing.bulk-operation.completed"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def _submit(billing: RunningBilling, body: dict[str, Any], *roles: str, expect: int = 202) -> Any:
    response = await billing.client.post("/billing/bulk-operations", json=body, headers=billing.auth(*roles))
    assert response.status_code == expect, response.text
    return response.json()


async def _finished(billing: RunningBilling, op_id: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        view: dict[str, Any] = await billing.get(f"/billing/bulk-operations/{op_id}")
        return view if view["state"] not in ("queued", "running") else None

    result: dict[str, Any] = await eventually(check, timeout=60, interval=0.05)
    return result


async def _failed(billing: RunningBilling, op_id: str) -> list[tuple[str, str | None, str]]:
    items = await billing.get(f"/billing/bulk-operations/{op_id}/items", status="failed")
    return [(i["ref"], i["column"], i["error"]) for i in items]


async def _plan(billing: RunningBilling, name: str, price_minor: int, **extra: Any) -> str:
    body = {"code": unique(name.upper()), "name": name, "currency": "EUR", "price_minor": price_minor} | extra
    return str((await billing.post("/billing/plans", body))["id"])


async def _subscription(billing: RunningBilling, plan_id: str, *, timezone: str = "UTC") -> tuple[str, str]:
    customer, subscriber = unique("cust"), unique("sub")
    await billing.add_customer(customer, timezone=timezone, subscriber_id=subscriber, username=f"{subscriber}@isp")
    billing.clock.set(at("2025-01-01T10:00"))
    body = {"subscriber_id": subscriber, "plan_id": plan_id, "start_date": "2025-01-01"}
    return subscriber, str((await billing.post("/billing/subscriptions", body))["id"])


async def test_change_plan_in_bulk_moves_each_subscription_and_publishes_its_change(billing):
    basic, fast = await _plan(billing, "Basic", 2999), await _plan(billing, "Fast", 4999)
    subs = [(await _subscription(billing, basic))[1] for _ in range(3)]
    billing.clock.set(at("2025-01-11T00:00"))
    body = {"kind": "subscriptions.change_plan", "filter": {"plan_id": basic}, "plan_id": fast}
    refused = await _submit(billing, body, "collections", expect=403)
    assert "finance" in refused["detail"]
    no_plan = await _submit(billing, {"kind": "subscriptions.change_plan", "ids": subs}, expect=422)
    assert no_plan["detail"][0]["loc"][-1] == "plan_id"

    async with billing.probe(topics.SUBSCRIPTIONS, topics.BILLING_BULK_OPERATIONS) as probe:
        op = await _submit(billing, {**body, "filter": None, "ids": [*subs, "no-such-subscription"]})
        assert (op["kind"], op["total"], op["state"]) == ("subscriptions.change_plan", 4, "queued")
        done = await _finished(billing, op["operation_id"])
        assert (done["state"], done["succeeded"], done["failed"]) == ("completed_with_errors", 3, 1)
        [(ref, _, error)] = await _failed(billing, op["operation_id"])
        assert ref == "no-such-subscription" and "not found" in error
        for sub_id in subs:
            assert (await billing.get(f"/billing/subscriptions/{sub_id}"))["plan_id"] == fast
        changed = await probe.wait_for(lambda e: e.type == "bss.billing.subscription.plan-changed", count=3)
        [completed] = await probe.wait_for(lambda e: e.type == COMPLETED)
    assert sorted(e.data["subscription_id"] for e in changed) == sorted(subs)
    assert (completed.subject, completed.data["kind"], completed.data["succeeded"]) == (
        op["operation_id"], "subscriptions.change_plan", 3
    )  # fmt: skip
    # Nothing left to move: a filter selecting nothing is refused.
    nothing = await _submit(billing, body, expect=422)
    assert nothing["detail"][0]["loc"][-1] == "filter"


async def test_void_drafts_in_bulk_voids_drafts_only_and_reports_the_rest(billing):
    customer = unique("cust")
    await billing.add_customer(customer)
    drafts = [(await billing.invoice(customer, ("Install", 5_000), issue=False))["id"] for _ in range(3)]
    issued = (await billing.invoice(customer, ("Router", 9_900)))["id"]
    no_reason = await _submit(billing, {"kind": "invoices.void_drafts", "ids": drafts}, expect=422)
    assert no_reason["detail"][0]["loc"][-1] == "reason"

    async with billing.probe(topics.INVOICES, topics.BILLING_BULK_OPERATIONS) as probe:
        body = {"kind": "invoices.void_drafts", "ids": [*drafts, issued], "reason": "migration clean-up"}
        op = await _submit(billing, body)
        done = await _finished(billing, op["operation_id"])
        [completed] = await probe.wait_for(lambda e: e.type == COMPLETED and e.subject == op["operation_id"])
        seen = await probe.settle(0.5)
    assert (done["state"], done["succeeded"], done["failed"]) == ("completed_with_errors", 3, 1)
    assert completed.data["state"] == "completed_with_errors"
    [(ref, _, error)] = await _failed(billing, op["operation_id"])
    assert ref == issued and "only drafts" in error
    for invoice_id in drafts:
        invoice = await billing.get(f"/billing/invoices/{invoice_id}")
        assert (invoice["status"], invoice["void_reason"]) == ("void", "migration clean-up")
    assert (await billing.get(f"/billing/invoices/{issued}"))["status"] == "open"
    assert of_type(seen, "bss.billing.invoice.voided") == []  # a draft's void has no event: nobody saw it
    report = await billing.client.get(
        f"/billing/bulk-operations/{op['operation_id']}/report.csv", headers=billing.auth()
    )
    assert report.status_code == 200 and report.text.splitlines()[1].startswith(f"{issued},failed,")


async def test_credit_notes_from_a_list_are_issued_numbered_and_applied(billing):
    first, second = unique("cust"), unique("cust")
    await billing.add_customer(first)
    await billing.add_customer(second)
    invoice = await billing.invoice(first, ("Fibre", 10_000))
    await billing.invoice(second, ("Fibre", 10_000))
    notes = [
        {"invoice_id": invoice["id"], "amount_minor": 2_500, "currency": "EUR", "reason": "outage goodwill"},
        {"invoice_id": invoice["id"], "amount_minor": 100, "currency": "USD", "reason": "wrong currency"},
        {"customer_id": second, "amount_minor": 12_000, "currency": "EUR", "reason": "outage goodwill"},
    ]
    bad = await _submit(billing, {"kind": "credit_notes.issue", "credit_notes": [{"amount_minor": -1}]}, expect=422)
    assert {tuple(d["loc"][-2:]) for d in bad["detail"]} >= {(0, "amount_minor"), (0, "currency")}

    async with billing.probe(topics.INVOICES, topics.BILLING_BULK_OPERATIONS) as probe:
        op = await _submit(billing, {"kind": "credit_notes.issue", "credit_notes": notes})
        done = await _finished(billing, op["operation_id"])
        issued = await probe.wait_for(lambda e: e.type == "bss.billing.credit-note.issued", count=2)
        await probe.wait_for(lambda e: e.type == COMPLETED and e.subject == op["operation_id"])
    assert (done["succeeded"], done["failed"]) == (2, 1)
    [(ref, column, error)] = await _failed(billing, op["operation_id"])
    assert (ref, column) == (invoice["id"], "currency") and "USD" in error
    items = await billing.get(f"/billing/bulk-operations/{op['operation_id']}/items", status="succeeded")
    numbers = [i["result"] for i in items]
    # Gapless: the refused item in between took no number.
    assert numbers == sorted(e.data["credit_note_number"] for e in issued)
    assert int(numbers[1][-6:]) == int(numbers[0][-6:]) + 1
    assert (await billing.get(f"/billing/invoices/{invoice['id']}"))["balance_minor"] == 7_500
    by_customer = {e.data["customer_id"]: (e.data["applied_minor"], e.data["amount_minor"]) for e in issued}
    assert by_customer == {first: (2_500, 2_500), second: (10_000, 12_000)}  # 2,000 kept as credit


async def test_usage_reset_in_bulk_counts_the_open_cycle_from_the_reset(billing):
    plan = await _plan(billing, "Capped", 3_000, included_octets=10 * GB, overage_price_per_gb_minor=200)
    subscriber, sub_id = await _subscription(billing, plan)
    username = f"{subscriber}@isp"
    s1, s2 = unique("sess"), unique("sess")
    await billing.publish_and_wait(
        session_event("start", username, s1, at("2025-01-10T10:00"), 0),
        session_event("interim", username, s1, at("2025-01-10T12:00"), 9 * GB),
    )
    billing.clock.set(at("2025-01-15T12:00"))
    wrong_cycle = await _submit(
        billing, {"kind": "usage.reset", "ids": [sub_id], "period_start": "2024-12-01"}
    )  # fmt: skip
    assert (await _finished(billing, wrong_cycle["operation_id"]))["failed"] == 1
    [(_, column, _)] = await _failed(billing, wrong_cycle["operation_id"])
    assert column == "period_start"

    async with billing.probe(topics.BILLING_BULK_OPERATIONS) as probe:
        op = await _submit(billing, {"kind": "usage.reset", "filter": {"plan_id": plan}, "period_start": "2025-01-01"})
        done = await _finished(billing, op["operation_id"])
        [completed] = await probe.wait_for(lambda e: e.subject == op["operation_id"])
    assert (done["state"], done["succeeded"], completed.data["kind"]) == ("completed", 1, "usage.reset")
    await billing.publish_and_wait(
        session_event("stop", username, s1, at("2025-01-16T10:00"), 11 * GB),  # 2 GB after the reset
        session_event("start", username, s2, at("2025-01-20T10:00"), 0),
        session_event("stop", username, s2, at("2025-01-20T11:00"), GB),
    )
    billing.clock.set(at("2025-01-21T00:00"))
    [period] = (await billing.get(f"/billing/subscriptions/{sub_id}/usage"))["periods"]
    assert period["total_octets"] == 3 * GB  # 12 GB without the reset

    # Closing the cycle bills it so: 3 GB of 10 included, no overage line.
    billing.clock.set(at("2025-02-01T00:00"))
    assert (await billing.post("/billing/usage/close", roles=("ops",), expect=200))["processed"] == 1
    [january] = (await billing.get("/billing/invoices", subscription_id=sub_id))["items"]
    assert [line["kind"] for line in january["lines"]] == ["subscription"]
