"""Exclusion rules: who a campaign leaves alone, priorities, and no suspension on excluded days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bss_runtime.clock import ManualClock
from dunning.adapters import repository as repo

from .support import (
    START,
    TENANT,
    add_campaign,
    add_customer,
    campaign_body,
    execution_detail,
    outbox_events,
    overdue,
    report_overdue,
)

EMAIL = {"type": "email"}


async def _upsert_status(service, subscriber_id: str, customer_id: str, status: str) -> None:
    async with service.deps.database.transaction() as session:
        await repo.upsert_subscriber(session, {
            "tenant_id": TENANT, "subscriber_id": subscriber_id, "customer_id": customer_id,
            "username": "u", "status": status, "changed_at": START,
        })  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "customer", "invoice", "why"),
    [
        ({"min_outstanding_minor": {"EUR": 1000}}, {}, {"balance": 999}, "below the minimum 1000"),
        ({"partner_ids": ["partner-7"]}, {}, {"partner_id": "partner-7"}, "partner partner-7 is excluded"),
        ({"partner_ids": ["partner-7"]}, {"partner_id": "partner-7"}, {}, "partner partner-7 is excluded"),
        ({"customer_tags": ["vip"]}, {"tags": ("vip", "fiber")}, {}, "customer tag vip is excluded"),
        ({"subscriber_statuses": ["suspended"]}, {}, {"subscriber_id": "sub-1"}, "subscriber status suspended"),
    ],
)
async def test_an_excluded_invoice_gets_no_execution(offline_dunning, smtp, rules, customer, invoice, why):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, campaign_body("Strict", EMAIL, exclusion_rules=rules))
    await add_customer(service, "cust-1", email="ada@example.net", **customer)
    await _upsert_status(service, "sub-1", "cust-1", "suspended")
    assert await report_overdue(service, overdue("inv-1", "cust-1", **invoice)) is None
    async with service.deps.database.transaction() as session:
        recorded = await repo.get_invoice(session, TENANT, "inv-1")
    assert recorded is not None and recorded.check_note is not None
    assert "no active campaign matches; Strict:" in recorded.check_note and why in recorded.check_note
    assert await service.scheduler.run_due_steps() == 0
    assert smtp.messages == []


async def test_the_highest_priority_matching_campaign_wins(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, campaign_body("Mild", EMAIL, priority=1))
    await add_campaign(service, campaign_body("Strict", EMAIL, priority=10, exclusion_rules={"customer_tags": ["vip"]}))
    await add_campaign(service, campaign_body("Off", EMAIL, priority=99, is_active=False))
    await add_customer(service, "vip", email="vip@example.net", tags=("vip",))
    await add_customer(service, "regular", email="regular@example.net")
    vip = await report_overdue(service, overdue("inv-vip", "vip"))
    regular = await report_overdue(service, overdue("inv-regular", "regular"))
    assert vip is not None and regular is not None
    assert (await execution_detail(service, vip))[0].campaign_name == "Mild"
    assert (await execution_detail(service, regular))[0].campaign_name == "Strict"


WEEKEND_AND_HOLIDAY = {"no_suspension_weekdays": ["saturday", "sunday"], "holidays": ["2025-03-10"]}


async def test_a_suspension_due_on_a_weekend_waits_for_the_next_allowed_local_day(offline_dunning, smtp):
    clock = ManualClock(START)  # Monday 3 March 2025, 09:00 UTC
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    suspend = {"type": "suspend_service", "delay_days": 5}
    await add_campaign(service, campaign_body("Weekdays only", EMAIL, suspend, exclusion_rules=WEEKEND_AND_HOLIDAY))
    await add_customer(service, "cust-1", subscriber_id="sub-1", email="ada@example.net", timezone="Europe/Berlin")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", subscriber_id="sub-1"))
    assert await service.scheduler.run_due_steps() == 1
    execution, _ = await execution_detail(service, execution_id)
    # Five days later is Saturday 8 March; Sunday is excluded and Monday 10 March a holiday: Tuesday 11 March,
    # 00:00 in Berlin.
    assert execution.next_action_at == datetime(2025, 3, 10, 23, 0, tzinfo=UTC)
    clock.set(datetime(2025, 3, 10, 22, 59, tzinfo=UTC))
    assert await service.scheduler.run_due_steps() == 0
    assert await outbox_events(service, "bss.customers.subscriber.suspension-requested") == []
    clock.advance(timedelta(minutes=1))
    assert await service.scheduler.run_due_steps() == 1
    [request] = await outbox_events(service, "bss.customers.subscriber.suspension-requested")
    assert request["data"]["subscriber_id"] == "sub-1"


async def test_a_suspension_reached_late_on_an_excluded_day_is_postponed_not_run(offline_dunning, smtp):
    clock = ManualClock(START)
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_campaign(service, campaign_body(
        "Suspend", {"type": "suspend_service", "delay_days": 1}, exclusion_rules=WEEKEND_AND_HOLIDAY))  # fmt: skip
    await add_customer(service, "cust-1", subscriber_id="sub-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", subscriber_id="sub-1"))
    # The workers were down from Tuesday (when the step was due) until Sunday afternoon.
    clock.set(datetime(2025, 3, 9, 15, 0, tzinfo=UTC))
    assert await service.scheduler.run_due_steps() == 1  # it looked at the step, and postponed it
    execution, logs = await execution_detail(service, execution_id)
    assert logs == [] and execution.current_step == 0
    assert execution.next_action_at == datetime(2025, 3, 11, tzinfo=UTC)  # Monday is a holiday (UTC calendar)
    assert await outbox_events(service, "bss.customers.subscriber.suspension-requested") == []
