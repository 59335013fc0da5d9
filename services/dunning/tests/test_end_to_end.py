"""End to end, with the real customers service: invoice overdue -> email at the SMTP server -> subscriber
suspended in the customers service -> payment -> subscriber reinstated.

Both services run in-process, each on its own fresh database, sharing this test's topics. Billing is not
started: the test publishes InvoiceOverdue and PaymentReceived exactly as billing's outbox relay would.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.events import eventually, publish_events
from customers.config import Settings as CustomersSettings
from customers.entrypoints.app import create_app as create_customers_app
from dunning.adapters import repository as repo

from .support import TENANT, overdue, payment, serving, unique

CAMPAIGN = {
    "name": "Residential",
    "trigger_after_days": 3,
    "max_retries": 1,
    "retry_interval_days": 1,
    "actions": [
        {"type": "email", "template": {"subject": "Invoice {{ invoice.number }} is overdue",
                                       "body": "Dear {{ customer.name }}, {{ invoice.balance }} {{ invoice.currency }}"
                                               " is open since {{ invoice.due_date }}."}},
        {"type": "suspend_service", "delay_days": 2},
    ],
}  # fmt: skip


def _token(settings: CustomersSettings, *roles: str) -> dict[str, str]:
    jwt = JwtConfig(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
    return {"Authorization": f"Bearer {issue_token(jwt, subject='e2e', tenant_id=TENANT, roles=roles)}"}


async def test_overdue_email_suspension_payment_reinstatement_across_services(
    start_dunning, smtp, fresh_database, kafka_bootstrap, prefix
):
    dunning = await start_dunning(smtp_port=smtp.port, workers=True)
    customers_settings = CustomersSettings(
        database_url=await fresh_database("customers"), kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix, outbox_poll_seconds=0.02,
    )  # fmt: skip
    async with serving(create_customers_app(customers_settings), "http://customers") as customers:
        support = _token(customers_settings, "support")

        # The customer and an active subscriber, made through the customers service's API.
        customer = await _ok(customers.post("/customers", headers=support, json={
            "name": "Erin Example", "email": "erin@example.net", "phone": "+4915112345678",
            "timezone": "Europe/Berlin"}))  # fmt: skip
        customer_id = customer["customer_id"]
        subscriber = await _ok(customers.post(f"/customers/{customer_id}/subscribers", headers=support,
                                              json={"username": unique("erin")}))  # fmt: skip
        subscriber_id = subscriber["subscriber_id"]
        await _ok(customers.post(f"/subscribers/{subscriber_id}/activate", headers=support))
        created = await dunning.client.post("/dunning/campaigns", json=CAMPAIGN, headers=dunning.auth())
        assert created.status_code == 201, created.text

        # Dunning learns the customer and the subscriber from the customers service's events.
        await eventually(lambda: _dunning_knows(dunning, customer_id, subscriber_id, "active"))

        # Billing reports the invoice overdue: the first notice goes out by email.
        invoice = unique("inv")
        await publish_events(kafka_bootstrap, prefix, (overdue(invoice, customer_id, subscriber_id=subscriber_id,
                                                               balance=3990, number="INV-E2E-1"), TENANT))  # fmt: skip
        await eventually(lambda: smtp.to("erin@example.net"), timeout=60)
        [mail] = smtp.to("erin@example.net")
        assert mail["Subject"] == "Invoice INV-E2E-1 is overdue"
        due = (dunning.clock.now() - timedelta(days=5)).date().isoformat()
        assert mail.get_content().strip() == f"Dear Erin Example, 39.90 EUR is open since {due}."

        # Two days later the subscriber is suspended in the customers service.
        await dunning.advance(timedelta(days=2))
        suspended = await eventually(lambda: _subscriber_in(customers, support, subscriber_id, "suspended"), timeout=60)
        assert suspended["status_reason"] is not None and "INV-E2E-1" in suspended["status_reason"]

        # The customer pays the whole balance: the subscriber is active again.
        await publish_events(kafka_bootstrap, prefix, (payment(invoice, customer_id, 3990, 0), TENANT))
        await eventually(lambda: _subscriber_in(customers, support, subscriber_id, "active"), timeout=60)
        history = await _ok(customers.get(f"/subscribers/{subscriber_id}/history", headers=support))
        assert [(h["previous_status"], h["status"], h["requested_by"]) for h in history][-2:] == [
            ("active", "suspended", "dunning"), ("suspended", "active", "dunning")]  # fmt: skip

    [execution] = await dunning.executions(invoice_id=invoice)
    assert (execution["status"], execution["recovered_minor"], execution["outstanding_minor"]) == ("completed", 3990, 0)
    await eventually(lambda: _dunning_knows(dunning, customer_id, subscriber_id, "active"))


async def _ok(request: Any) -> Any:
    response: httpx.Response = await request
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _subscriber_in(customers: httpx.AsyncClient, headers: dict[str, str], subscriber_id: str, status: str) -> Any:
    subscriber = await _ok(customers.get(f"/subscribers/{subscriber_id}", headers=headers))
    return subscriber if subscriber["status"] == status else None


async def _dunning_knows(dunning: Any, customer_id: str, subscriber_id: str, status: str) -> bool:
    async with dunning.service.deps.database.transaction() as session:
        customer = await repo.get_customer(session, TENANT, customer_id)
        known = await repo.subscriber_status(session, TENANT, subscriber_id)
    return customer is not None and customer.email == "erin@example.net" and known == status
