"""Payments, credit notes and holds on suspensions: what the billing events do to executions."""

from __future__ import annotations

from bss_contracts.events.billing import CreditNoteIssued
from dunning.adapters import repository as repo
from dunning.service_layer import settlement

from .support import (
    START,
    TENANT,
    add_campaign,
    add_customer,
    campaign_body,
    execution_detail,
    outbox_events,
    overdue,
    payment,
    report_overdue,
)

SUSPEND_THEN_WAIT = campaign_body("Suspend", {"type": "suspend_service"}, {"type": "email", "delay_days": 30})
REINSTATE = "bss.customers.subscriber.reinstatement-requested"
SUSPEND = "bss.customers.subscriber.suspension-requested"


async def _pay(service, event) -> None:
    async with service.deps.database.transaction() as session:
        await settlement.payment_received(session, service.deps, TENANT, event)


async def test_a_subscriber_stays_suspended_until_every_invoice_that_suspended_it_is_paid(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, SUSPEND_THEN_WAIT)
    await add_customer(service, "cust-1", subscriber_id="sub-1", email="ada@example.net")
    first = await report_overdue(service, overdue("inv-1", "cust-1", subscriber_id="sub-1", balance=1000))
    assert await service.scheduler.run_due_steps() == 1
    suspended = {"tenant_id": TENANT, "subscriber_id": "sub-1", "customer_id": "cust-1", "username": "u",
                 "status": "suspended", "changed_at": START}  # fmt: skip
    async with service.deps.database.transaction() as session:  # the customers service reports it suspended
        await repo.upsert_subscriber(session, suspended)
    second = await report_overdue(service, overdue("inv-2", "cust-1", subscriber_id="sub-1", balance=2000))
    assert await service.scheduler.run_due_steps() == 1

    _, [log] = await execution_detail(service, second)
    assert (log.status, log.result["requested"], log.result["already_suspended"]) == ("succeeded", [], ["sub-1"])
    assert len(await outbox_events(service, SUSPEND)) == 1  # asked once

    await _pay(service, payment("inv-1", "cust-1", 1000, 0))
    assert (await execution_detail(service, first))[0].status == "completed"
    assert await outbox_events(service, REINSTATE) == []  # invoice 2 is still unpaid
    await _pay(service, payment("inv-2", "cust-1", 2000, 0))
    [reinstate] = await outbox_events(service, REINSTATE)
    assert (reinstate["data"]["subscriber_id"], reinstate["data"]["invoice_id"]) == ("sub-1", "inv-2")


async def test_credit_notes_lower_the_balance_but_are_not_recovered_money(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, SUSPEND_THEN_WAIT)
    await add_customer(service, "cust-1", subscriber_id="sub-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", subscriber_id="sub-1", balance=10_000))
    assert await service.scheduler.run_due_steps() == 1
    await _pay(service, payment("inv-1", "cust-1", 6_000, 4_000, payment_id="pay-1"))
    await _pay(service, payment("inv-1", "cust-1", 6_000, 4_000, payment_id="pay-1"))  # the same payment again
    credit = CreditNoteIssued(
        credit_note_id="cn-1", credit_note_number="CN-1", customer_id="cust-1", invoice_id="inv-1", kind="sla",
        amount_minor=4_000, applied_minor=4_000, currency="EUR", reason="outage", invoice_balance_minor=0,
        issued_at=START,
    )  # fmt: skip
    async with service.deps.database.transaction() as session:
        await settlement.credit_note_issued(session, service.deps, TENANT, credit)
    execution, _ = await execution_detail(service, execution_id)
    assert (execution.status, execution.outstanding_minor, execution.recovered_minor) == ("completed", 0, 6_000)
    assert execution.suspended_subscriber_ids == ()
    assert len(await outbox_events(service, REINSTATE)) == 1
    [completed] = await outbox_events(service, "bss.dunning.execution.completed")
    assert (completed["data"]["outcome"], completed["data"]["recovered_minor"]) == ("recovered", 6_000)


async def test_a_payment_in_another_currency_changes_nothing(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, SUSPEND_THEN_WAIT)
    await add_customer(service, "cust-1", subscriber_id="sub-1")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", balance=5_000))
    await _pay(service, payment("inv-1", "cust-1", 5_000, 0, currency="USD"))
    execution, _ = await execution_detail(service, execution_id)
    assert (execution.status, execution.outstanding_minor, execution.recovered_minor) == ("pending", 5_000, 0)
