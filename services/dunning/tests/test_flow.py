"""Overdue invoice -> notices -> suspension request -> payments -> reinstatement request, over Kafka.

Billing's and the customers service's events are published as those services would; what dunning asks of
the customers service is read back from the topic.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bss_contracts import topics
from bss_contracts.events.billing import InvoiceVoided
from bss_testkit.events import EventProbe, eventually, publish_events

from .support import (
    START,
    TENANT,
    campaign_body,
    customer_created,
    overdue,
    payment,
    subscriber_events,
    unique,
)

STANDARD = campaign_body(
    "Standard",
    {"type": "email", "delay_days": 0,
     "template": {"name": "first-notice", "subject": "Invoice {{ invoice.number }} is overdue",
                  "body": "Dear {{ customer.name }}, please pay {{ invoice.balance }} {{ invoice.currency }}."}},
    {"type": "sms", "delay_days": 2},
    {"type": "suspend_service", "delay_days": 3, "config": {"reason": "unpaid invoice"}},
    trigger=3,
)  # fmt: skip


async def _publish_customer(
    kafka_bootstrap: str, prefix: str, customer: str, subscriber: str, email: str, phone: str = "+15550100"
) -> None:
    events = [customer_created(customer, email=email, phone=phone), *subscriber_events(subscriber, customer)]
    await publish_events(kafka_bootstrap, prefix, *[(e, TENANT) for e in events])


async def test_overdue_invoice_is_collected_notices_suspension_and_reinstatement_on_payment(
    start_dunning, smtp, kafka_bootstrap, prefix
):
    dunning = await start_dunning(smtp_port=smtp.port, workers=True)
    created = await dunning.client.post("/dunning/campaigns", json=STANDARD, headers=dunning.auth("collections"))
    assert created.status_code == 201, created.text
    customer, subscriber, invoice = unique("cust"), unique("sub"), unique("inv")
    await _publish_customer(kafka_bootstrap, prefix, customer, subscriber, "ada@example.net")

    async with EventProbe(kafka_bootstrap, prefix, topics.SUBSCRIBER_COMMANDS, topics.DUNNING,
                          topics.NOTIFICATIONS) as probe:  # fmt: skip
        # Dunning must know the customer before the invoice is overdue (in production it does by months).
        await eventually(lambda: _customer_known(dunning, customer))
        [reported] = await publish_events(kafka_bootstrap, prefix,
                                          (overdue(invoice, customer, subscriber_id=subscriber, balance=4999,
                                                   number="INV-2025-0042", days_past_due=5), TENANT))  # fmt: skip

        # Step 1, at once: the email arrives at the SMTP server.
        await eventually(lambda: smtp.to("ada@example.net"))
        [mail] = smtp.to("ada@example.net")
        assert mail["Subject"] == "Invoice INV-2025-0042 is overdue"
        assert mail.get_content().strip() == "Dear Ada Lovelace, please pay 49.99 EUR."
        message_id = mail["Message-ID"].strip()  # a long header arrives folded
        assert message_id.startswith("<dunning.") and message_id.endswith("@dunning.ispbss.local>")
        [execution] = await dunning.executions(invoice_id=invoice)
        assert (execution["status"], execution["current_step"], execution["total_steps"]) == ("in_progress", 1, 3)
        assert datetime.fromisoformat(execution["next_action_at"]) == START + timedelta(days=2)

        # Step 2 after two days: an SMS notice (recorded as NotificationRequested: no gateway here).
        await dunning.advance(timedelta(days=2))
        [sms] = await probe.wait_for(lambda e: e.type == "bss.notifications.requested" and e.data["channel"] == "sms")
        assert sms.data["recipient"] == "+15550100"
        assert sms.data["body"] == (
            "Invoice INV-2025-0042: 49.99 EUR is overdue since "
            f"{(START - timedelta(days=5)).date().isoformat()}. Please pay to avoid suspension."
        )

        # A partial payment lowers what is owed; the campaign goes on.
        await publish_events(kafka_bootstrap, prefix, (payment(invoice, customer, 2000, 2999), TENANT))
        await eventually(lambda: _outstanding(dunning, invoice, 2999))

        # Step 3 after three more days: the suspension is requested from the customers service.
        await dunning.advance(timedelta(days=3))
        [suspend] = await probe.wait_for(lambda e: e.type == "bss.customers.subscriber.suspension-requested")
        assert suspend.data["subscriber_id"] == subscriber
        assert suspend.data["reason"] == "unpaid invoice"
        assert suspend.data["requested_by"] == "dunning"
        assert suspend.subject == subscriber

        # The rest is paid: the execution completes and the subscriber is to be reinstated.
        await publish_events(kafka_bootstrap, prefix, (payment(invoice, customer, 2999, 0), TENANT))
        [reinstate] = await probe.wait_for(lambda e: e.type == "bss.customers.subscriber.reinstatement-requested")
        assert reinstate.data["subscriber_id"] == subscriber
        [completed] = await probe.wait_for(lambda e: e.type == "bss.dunning.execution.completed")
        assert (completed.data["outcome"], completed.data["recovered_minor"], completed.data["currency"]) == (
            "recovered", 4999, "EUR")  # fmt: skip
        steps = probe.of_type("bss.dunning.execution.step-executed")
        assert [(s.data["step_number"], s.data["action_type"], s.data["status"]) for s in steps] == [
            (1, "email", "succeeded"), (2, "sms", "succeeded"), (3, "suspend_service", "succeeded")]  # fmt: skip
        assert all(e.subject == invoice for e in probe.seen if e.type.startswith("bss.dunning."))
        # The execution's events belong to the business flow the overdue notice started (tracing).
        flow = [e for e in probe.seen if e.type != "bss.dunning.execution.completed" and "reinstatement" not in e.type]
        assert len(flow) == 7 and {e.correlation_id for e in flow} == {reported.correlation_id}

    detail = await dunning.get(f"/dunning/executions/{execution['id']}")
    assert detail["status"] == "completed"
    assert (detail["outstanding_minor"], detail["recovered_minor"]) == (0, 4999)
    assert detail["suspended_subscriber_ids"] == []
    assert [(log["step_number"], log["attempt"], log["status"]) for log in detail["logs"]] == [
        (1, 1, "succeeded"), (2, 1, "succeeded"), (3, 1, "succeeded")]  # fmt: skip
    assert detail["logs"][0]["external_id"] == message_id
    assert [(c["kind"], c["amount_minor"], c["outstanding_after_minor"]) for c in detail["balance_changes"]] == [
        ("payment", 2000, 2999), ("payment", 2999, 0)]  # fmt: skip
    stats = await dunning.get("/dunning/stats")
    assert (stats["total_executions"], stats["completed_executions"], stats["active_executions"]) == (1, 1, 0)
    assert stats["amounts"] == [
        {"currency": "EUR", "initial_outstanding_minor": 4999, "outstanding_minor": 0, "recovered_minor": 4999}
    ]
    assert stats["average_recovery_rate"] == 100.0
    assert stats["average_completion_time_hours"] == 5 * 24.0
    [campaign] = await dunning.get("/dunning/campaigns")
    assert campaign["statistics"]["successful_executions"] == 1
    assert campaign["statistics"]["recovered"] == [{"currency": "EUR", "amount_minor": 4999}]


async def test_a_voided_invoice_cancels_its_execution(start_dunning, smtp, kafka_bootstrap, prefix):
    dunning = await start_dunning(smtp_port=smtp.port, workers=True)
    body = campaign_body("Suspend first", {"type": "suspend_service"}, {"type": "email", "delay_days": 5})
    assert (await dunning.client.post("/dunning/campaigns", json=body, headers=dunning.auth())).status_code == 201
    customer, subscriber, invoice = unique("cust"), unique("sub"), unique("inv")
    await _publish_customer(kafka_bootstrap, prefix, customer, subscriber, "bob@example.net")
    async with EventProbe(kafka_bootstrap, prefix, topics.SUBSCRIBER_COMMANDS, topics.DUNNING) as probe:
        await eventually(lambda: _customer_known(dunning, customer))
        first = overdue(invoice, customer, subscriber_id=subscriber, balance=1500)
        await publish_events(kafka_bootstrap, prefix, (first, TENANT))
        await probe.wait_for(lambda e: e.type == "bss.customers.subscriber.suspension-requested")
        voided = InvoiceVoided(
            invoice_id=invoice, invoice_number=first.invoice_number, customer_id=customer, subscriber_id=subscriber,
            currency="EUR", reason="billed twice", balance_minor=1500, voided_at=START,
        )  # fmt: skip
        await publish_events(kafka_bootstrap, prefix, (voided, TENANT))
        [canceled] = await probe.wait_for(lambda e: e.type == "bss.dunning.execution.canceled")
        assert canceled.data["reason"] == "invoice voided: billed twice"
        [reinstate] = await probe.wait_for(lambda e: e.type == "bss.customers.subscriber.reinstatement-requested")
        assert reinstate.data["subscriber_id"] == subscriber
    [execution] = await dunning.executions(invoice_id=invoice)
    assert execution["status"] == "canceled"
    await dunning.advance(timedelta(days=10))  # the email step never runs
    assert smtp.messages == []


async def _customer_known(dunning, customer_id: str) -> bool:
    from dunning.adapters import repository as repo

    async with dunning.service.deps.database.transaction() as session:
        return await repo.get_customer(session, TENANT, customer_id) is not None


async def _outstanding(dunning, invoice_id: str, amount: int) -> bool:
    [execution] = await dunning.executions(invoice_id=invoice_id)
    return bool(execution["outstanding_minor"] == amount)
