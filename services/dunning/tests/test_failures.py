"""Failing deliveries: SMTP down, webhooks refused; retries per the campaign, then a failed, logged step."""

from __future__ import annotations

import json
from datetime import timedelta

from bss_runtime.clock import ManualClock
from bss_testkit.receivers import SmtpServer, WebhookReceiver, free_port

from .support import (
    START,
    add_campaign,
    add_customer,
    campaign_body,
    execution_detail,
    outbox_events,
    overdue,
    report_overdue,
)

SECRET = "a-webhook-secret-of-some-length"


def _retrying(*actions, max_retries: int = 2, **extra):
    return campaign_body("Retrying", *actions, **extra) | {"max_retries": max_retries, "retry_interval_days": 1}


async def test_smtp_down_the_step_is_retried_then_failed_and_logged(offline_dunning):
    clock = ManualClock(START)
    dead_port = free_port()  # nothing listens here: SMTP is down
    service = await offline_dunning(smtp_port=dead_port, clock=clock)
    await add_campaign(service, _retrying({"type": "email"}, {"type": "suspend_service", "delay_days": 1}))
    await add_customer(service, "cust-1", subscriber_id="sub-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1", subscriber_id="sub-1"))

    for _ in range(3):  # the first attempt and two retries, a day apart
        assert await service.scheduler.run_due_steps() == 1
        assert await service.scheduler.run_due_steps() == 0
        clock.advance(timedelta(days=1))
    assert await service.scheduler.run_due_steps() == 0  # nothing is left to run

    execution, logs = await execution_detail(service, execution_id)
    assert [(log.step_number, log.attempt, log.status) for log in logs] == [
        (1, 1, "retrying"), (1, 2, "retrying"), (1, 3, "failed")]  # fmt: skip
    assert [log.executed_at for log in logs] == [START, START + timedelta(days=1), START + timedelta(days=2)]
    for log in logs:
        assert log.error_message.startswith(f"SMTP 127.0.0.1:{dead_port}: ")
        assert log.result["recipient"] == "ada@example.net"
    assert (execution.status, execution.current_step, execution.next_action_at) == ("failed", 0, None)
    assert execution.completed_at == START + timedelta(days=2)
    [completed] = await outbox_events(service, "bss.dunning.execution.completed")
    assert (completed["data"]["outcome"], completed["data"]["outstanding_minor"]) == ("failed", 4999)
    steps = await outbox_events(service, "bss.dunning.execution.step-executed")
    assert [(s["data"]["attempt"], s["data"]["status"]) for s in steps] == [(1, "retrying"), (2, "retrying"),
                                                                            (3, "failed")]  # fmt: skip
    # A notice that never reached the customer is not followed by a suspension.
    assert await outbox_events(service, "bss.customers.subscriber.suspension-requested") == []
    assert await outbox_events(service, "bss.notifications.requested") == []


async def test_smtp_back_before_the_retries_run_out_the_retry_delivers(offline_dunning):
    clock = ManualClock(START)
    smtp = SmtpServer()  # not started yet: down
    service = await offline_dunning(smtp_port=smtp.port, clock=clock)
    await add_campaign(service, _retrying({"type": "email"}))
    await add_customer(service, "cust-1", email="ada@example.net")
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1"))
    assert await service.scheduler.run_due_steps() == 1
    smtp.start()
    try:
        clock.advance(timedelta(days=1))
        assert await service.scheduler.run_due_steps() == 1
    finally:
        smtp.stop()
    execution, logs = await execution_detail(service, execution_id)
    assert [(log.attempt, log.status) for log in logs] == [(1, "retrying"), (2, "succeeded")]
    [mail] = smtp.messages
    assert mail["Message-ID"].strip() == logs[1].external_id != logs[0].result["message_id"]
    assert (execution.status, execution.current_step, execution.retry_count) == ("in_progress", 1, 0)


async def test_webhook_is_signed_and_retried_with_backoff_within_the_step(offline_dunning, smtp):
    receiver = WebhookReceiver(SECRET, fail_with=[500, 503])
    try:
        service = await offline_dunning(smtp_port=smtp.port)
        body = campaign_body("Hook", {"type": "webhook", "config": {"url": receiver.url, "data": {"queue": "c1"}}},
                             webhook_secret=SECRET)  # fmt: skip
        await add_campaign(service, body)
        await add_customer(service, "cust-1")
        execution_id = await report_overdue(service, overdue("inv-1", "cust-1", balance=2500))
        assert await service.scheduler.run_due_steps() == 1
    finally:
        receiver.close()
    assert len(receiver.requests) == 3
    assert all(receiver.signed(headers, body) for headers, body in receiver.requests)
    assert len({headers["x-dunning-delivery-id"] for headers, _ in receiver.requests}) == 1
    payload = json.loads(receiver.requests[-1][1])
    fields = ("execution_id", "invoice_id", "step_number", "outstanding_minor", "currency", "data")
    assert [payload[f] for f in fields] == [execution_id, "inv-1", 1, 2500, "EUR", {"queue": "c1"}]
    _, [log] = await execution_detail(service, execution_id)
    assert (log.status, log.result["status_code"], log.result["tries"]) == ("succeeded", 200, 3)
    assert log.external_id == payload["delivery_id"]


async def test_a_refused_webhook_fails_the_step_after_the_campaigns_retries(offline_dunning, smtp):
    clock = ManualClock(START)
    receiver = WebhookReceiver(SECRET, fail_with=[500] * 6)
    try:
        service = await offline_dunning(smtp_port=smtp.port, clock=clock)
        await add_campaign(service, _retrying({"type": "webhook", "config": {"url": receiver.url}}, max_retries=1,
                                              webhook_secret=SECRET))  # fmt: skip
        await add_customer(service, "cust-1")
        execution_id = await report_overdue(service, overdue("inv-1", "cust-1"))
        assert await service.scheduler.run_due_steps() == 1
        clock.advance(timedelta(days=1))
        assert await service.scheduler.run_due_steps() == 1
    finally:
        receiver.close()
    execution, logs = await execution_detail(service, execution_id)
    assert [(log.attempt, log.status, log.error_message) for log in logs] == [
        (1, "retrying", f"webhook {receiver.url}: HTTP 500 after 3 tries"),
        (2, "failed", f"webhook {receiver.url}: HTTP 500 after 3 tries"),
    ]
    assert len(receiver.requests) == 6
    assert execution.status == "failed"


async def test_no_email_address_known_is_a_failed_attempt(offline_dunning, smtp):
    service = await offline_dunning(smtp_port=smtp.port)
    await add_campaign(service, _retrying({"type": "email"}, max_retries=0))
    await add_customer(service, "cust-1", email=None)
    execution_id = await report_overdue(service, overdue("inv-1", "cust-1"))
    assert await service.scheduler.run_due_steps() == 1
    execution, [log] = await execution_detail(service, execution_id)
    assert (log.status, log.error_message) == ("failed", "no email address known for customer cust-1")
    assert execution.status == "failed"
    assert smtp.messages == []
