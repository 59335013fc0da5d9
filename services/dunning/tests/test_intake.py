"""From an overdue invoice to an execution: the trigger day, re-checks, one active execution per invoice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bss_contracts.events.billing import InvoicePaid
from bss_runtime.clock import ManualClock
from dunning.adapters import repository as repo
from dunning.service_layer import settlement

from .support import (
    START,
    TENANT,
    add_campaign,
    add_customer,
    campaign_body,
    overdue,
    payment,
    report_overdue,
)

EMAIL_ONLY = {"type": "email"}


async def _invoice(service, invoice_id: str) -> repo.InvoiceRecord:
    async with service.deps.database.transaction() as session:
        invoice = await repo.get_invoice(session, TENANT, invoice_id)
    assert invoice is not None
    return invoice


async def test_an_invoice_starts_on_its_campaigns_trigger_day(offline_dunning, smtp):
    clock = ManualClock(START)
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_campaign(service, campaign_body("After ten days", EMAIL_ONLY, trigger=10))
    await add_customer(service, "cust-1", email="ada@example.net")

    assert await report_overdue(service, overdue("inv-1", "cust-1", days_past_due=2)) is None
    waiting = await _invoice(service, "inv-1")
    assert waiting.execution_id is None
    assert waiting.next_check_at == START.replace(hour=0) + timedelta(days=8)  # due date + 10 days, 00:00
    assert waiting.check_note is not None and "After ten days starts" in waiting.check_note

    clock.advance(timedelta(days=7))  # day 9: not yet
    assert await service.scheduler.check_due_invoices() == 0
    clock.advance(timedelta(days=1))  # day 10
    assert await service.scheduler.check_due_invoices() == 1
    assert await service.scheduler.run_due_steps() == 1
    assert [m["To"] for m in smtp.messages] == ["ada@example.net"]
    assert (await _invoice(service, "inv-1")).execution_id is not None


async def test_an_invoice_paid_before_its_trigger_day_is_never_dunned(offline_dunning, smtp):
    clock = ManualClock(START)
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_campaign(service, campaign_body("After ten days", EMAIL_ONLY, trigger=10))
    await add_customer(service, "cust-1", email="ada@example.net")
    await report_overdue(service, overdue("inv-1", "cust-1", days_past_due=2, balance=3000))
    async with service.deps.database.transaction() as session:
        await settlement.payment_received(session, service.deps, TENANT, payment("inv-1", "cust-1", 3000, 0))
    assert ((await _invoice(service, "inv-1")).status, (await _invoice(service, "inv-1")).balance_minor) == ("paid", 0)
    clock.advance(timedelta(days=30))
    assert await service.scheduler.check_due_invoices() == 0
    assert await service.scheduler.run_due_steps() == 0
    assert smtp.messages == []


async def test_an_invoice_no_campaign_matches_is_rechecked_and_picked_up_by_a_new_campaign(offline_dunning, smtp):
    clock = ManualClock(START)
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_customer(service, "cust-1", email="ada@example.net")
    assert await report_overdue(service, overdue("inv-1", "cust-1")) is None
    assert (await _invoice(service, "inv-1")).check_note == "no active campaign matches"

    await add_campaign(service, campaign_body("New", EMAIL_ONLY))
    clock.advance(timedelta(hours=23))
    assert await service.scheduler.check_due_invoices() == 0
    clock.advance(timedelta(hours=1))  # the daily re-check
    assert await service.scheduler.check_due_invoices() == 1
    assert (await _invoice(service, "inv-1")).execution_id is not None


async def test_at_most_one_active_execution_per_invoice(offline_dunning, smtp, fresh_database):
    url = await fresh_database("dunning")
    first = await offline_dunning(smtp_port=smtp.port, database_url=url)
    second = await offline_dunning(smtp_port=smtp.port, database_url=url)
    await add_campaign(first, campaign_body("Standard", EMAIL_ONLY))
    await add_customer(first, "cust-1", email="ada@example.net")

    # The same invoice reported overdue again (next day's detection, a redelivery) and at once by two replicas.
    started = await asyncio.gather(
        report_overdue(first, overdue("inv-1", "cust-1", days_past_due=5)),
        report_overdue(second, overdue("inv-1", "cust-1", days_past_due=5)),
    )
    again = await report_overdue(first, overdue("inv-1", "cust-1", days_past_due=6))
    assert len([s for s in started if s]) == 1 and again is None
    async with first.deps.database.transaction() as session:
        executions, total = await repo.list_executions(
            session, TENANT, repo.ExecutionFilter(invoice_id="inv-1"), limit=10, offset=0
        )
    assert total == 1

    # The database itself refuses a second active execution for the invoice.
    values = {
        "id": "second", "tenant_id": TENANT, "campaign_id": executions[0].campaign_id, "campaign_name": "x",
        "invoice_id": "inv-1", "customer_id": "cust-1", "status": "pending", "total_steps": 1,
        "plan": executions[0].plan.model_dump(mode="json"), "currency": "EUR", "initial_outstanding_minor": 1,
        "outstanding_minor": 1, "started_at": START,
    }  # fmt: skip
    async with first.deps.database.transaction() as session:
        assert await repo.insert_execution(session, values) is False
    with pytest.raises(IntegrityError, match="uq_dunning_executions_one_active_per_invoice"):
        async with first.deps.database.transaction() as session:
            from dunning.adapters.tables import executions as table

            await session.execute(table.insert().values(**values))


async def test_invoice_paid_without_a_payment_event_completes_with_the_rest_recovered(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, campaign_body("Standard", EMAIL_ONLY, {"type": "email", "delay_days": 5}))
    await add_customer(service, "cust-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", balance=8000))
    paid = InvoicePaid(invoice_id="inv-1", invoice_number="INV-1", customer_id="cust-1", currency="EUR",
                       total_minor=8000, paid_at=START)  # fmt: skip
    async with service.deps.database.transaction() as session:
        await settlement.invoice_paid(session, service.deps, TENANT, paid)
    async with service.deps.database.transaction() as session:
        execution = await repo.get_execution(session, TENANT, str(execution_id))
    assert execution is not None
    assert (execution.status, execution.outstanding_minor, execution.recovered_minor) == ("completed", 0, 8000)
