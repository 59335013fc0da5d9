"""Helpers for the dunning tests: the service under test, billing's and customers' events. (The real SMTP server
and webhook receiver are bss_testkit.receivers.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from bss_contracts.events.billing import InvoiceOverdue, PaymentReceived
from bss_contracts.events.customers import CustomerCreated, CustomerState, SubscriberActivated, SubscriberCreated
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.clock import ManualClock
from dunning.config import Settings
from dunning.entrypoints.app import Dunning

TENANT = "isp-1"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


# --- the service under test ----------------------------------------------------------------------------------


@dataclass
class RunningDunning:
    service: Dunning
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    settings: Settings

    def auth(self, *roles: str, tenant: str = TENANT, subject: str = "alice") -> dict[str, str]:
        token = issue_token(
            JwtConfig(self.settings.jwt_secret, self.settings.jwt_issuer, self.settings.jwt_audience),
            subject=subject, tenant_id=tenant, roles=roles or ("collections",),
        )  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, **kwargs: Any) -> Any:
        response = await self.client.get(path, headers=self.auth("finance"), **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def advance(self, delta: timedelta) -> None:
        """Move time and run what became due, as the background workers would."""
        self.clock.advance(delta)
        await self.service.scheduler.check_due_invoices()
        await self.service.scheduler.run_due_steps()

    async def executions(self, **params: str) -> list[dict[str, Any]]:
        page = await self.get("/dunning/executions", params=params)
        return list(page["items"])


@asynccontextmanager
async def serving(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, consumers, relay, workers) and talk to it in-process."""
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url
    ) as client:  # fmt: skip
        yield client


# --- what the other services would publish ------------------------------------------------------------------


def customer_created(customer_id: str, *, email: str | None = None, phone: str | None = None,
                     name: str = "Ada Lovelace", tags: tuple[str, ...] = (), partner_id: str | None = None,
                     timezone: str = "UTC") -> CustomerCreated:  # fmt: skip
    state = CustomerState(
        customer_id=customer_id, name=name, email=email, phone=phone, tags=tags, partner_id=partner_id,
        timezone=timezone, created_at=START - timedelta(days=90), updated_at=START - timedelta(days=90),
    )  # fmt: skip
    return CustomerCreated(customer_id=customer_id, customer=state)


def subscriber_events(subscriber_id: str, customer_id: str) -> list[SubscriberCreated | SubscriberActivated]:
    at = START - timedelta(days=80)
    who = {"subscriber_id": subscriber_id, "customer_id": customer_id, "username": f"{subscriber_id}@isp"}
    later = at + timedelta(hours=1)
    activated = SubscriberActivated(**who, previous_status="pending", status="active", changed_at=later)
    return [SubscriberCreated(**who, created_at=at), activated]


def overdue(invoice_id: str, customer_id: str, *, subscriber_id: str | None = None, balance: int = 4999,
            total: int | None = None, days_past_due: int = 5, currency: str = "EUR", number: str | None = None,
            partner_id: str | None = None, now: datetime = START) -> InvoiceOverdue:  # fmt: skip
    due = (now - timedelta(days=days_past_due)).date()
    return InvoiceOverdue(
        invoice_id=invoice_id, invoice_number=number or f"INV-{invoice_id[-6:]}", customer_id=customer_id,
        subscriber_id=subscriber_id, partner_id=partner_id, currency=currency, due_date=due,
        total_minor=total if total is not None else balance, balance_minor=balance,
        days_past_due=max(1, days_past_due), detected_at=now,
    )  # fmt: skip


def payment(invoice_id: str, customer_id: str, applied: int, balance_after: int, *, currency: str = "EUR",
            payment_id: str | None = None) -> PaymentReceived:  # fmt: skip
    return PaymentReceived(
        payment_id=payment_id or str(uuid.uuid4()), customer_id=customer_id, invoice_id=invoice_id,
        amount_minor=applied, applied_minor=applied, unapplied_minor=0, currency=currency,
        invoice_balance_minor=balance_after, method="bank_transfer", received_at=START,
    )  # fmt: skip


def campaign_body(name: str, *actions: dict[str, Any], trigger: int = 0, **extra: Any) -> dict[str, Any]:
    return {"name": name, "trigger_after_days": trigger, "max_retries": 1, "retry_interval_days": 1,
            "actions": list(actions)} | extra  # fmt: skip


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def due_date_for(days_past_due: int, now: datetime = START) -> date:
    return (now - timedelta(days=days_past_due)).date()


async def settle() -> None:
    """Let background tasks take a turn."""
    await asyncio.sleep(0)


# --- driving the use cases directly (no broker) ---------------------------------------------------------------


async def add_campaign(service: Dunning, body: dict[str, Any], tenant: str = TENANT) -> str:
    from dunning.domain.campaigns import CampaignSettings
    from dunning.service_layer.campaigns import create_campaign

    async with service.deps.database.transaction() as session:
        campaign = await create_campaign(session, tenant, CampaignSettings.model_validate(body))
    return campaign.id


async def add_customer(service: Dunning, customer_id: str, *, subscriber_id: str | None = None,
                       tenant: str = TENANT, **facts: Any) -> None:  # fmt: skip
    from dunning.adapters import repository as repo

    event = customer_created(customer_id, **facts)
    async with service.deps.database.transaction() as session:
        await repo.upsert_customer(session, {
            "tenant_id": tenant, "customer_id": customer_id, "name": event.customer.name,
            "email": event.customer.email, "phone": event.customer.phone, "partner_id": event.customer.partner_id,
            "tags": list(event.customer.tags), "timezone": event.customer.timezone,
            "source_updated_at": event.customer.updated_at,
        })  # fmt: skip
        if subscriber_id:
            await repo.upsert_subscriber(session, {
                "tenant_id": tenant, "subscriber_id": subscriber_id, "customer_id": customer_id,
                "username": f"{subscriber_id}@isp", "status": "active", "changed_at": START - timedelta(days=80),
            })  # fmt: skip


async def report_overdue(service: Dunning, event: InvoiceOverdue, tenant: str = TENANT) -> str | None:
    """What the InvoiceOverdue handler does, in one transaction; returns the execution id if one started."""
    from dunning.service_layer.intake import record_overdue

    async with service.deps.database.transaction() as session:
        return await record_overdue(session, service.deps, tenant, event)


async def outbox_events(service: Dunning, event_type: str) -> list[dict[str, Any]]:
    """Envelopes of `event_type` this service wrote to its outbox (committed)."""
    from sqlalchemy import select

    from dunning.adapters.tables import runtime_tables

    outbox = runtime_tables.outbox
    async with service.deps.database.transaction() as session:
        rows = await session.scalars(
            select(outbox.c.payload).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
        )
        return [json.loads(payload) for payload in rows]


async def execution_detail(service: Dunning, execution_id: str | None, tenant: str = TENANT) -> tuple[Any, list[Any]]:
    from dunning.adapters import repository as repo

    assert execution_id is not None, "no execution started"
    async with service.deps.database.transaction() as session:
        execution = await repo.get_execution(session, tenant, execution_id)
        logs = await repo.action_log(session, tenant, execution_id)
    return execution, logs
