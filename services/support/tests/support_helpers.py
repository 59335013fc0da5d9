"""Helpers of the support tests: the service under test (in-process, real PostgreSQL and Kafka, a manual clock)
and what customers, billing and dunning would publish."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from bss_contracts.events.billing import SlaBreachDetected
from bss_contracts.events.customers import CustomerCreated, CustomerState, SubscriberCreated, SubscriberSuspended
from bss_contracts.events.dunning import DunningStarted
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.clock import ManualClock
from support.adapters.tables import runtime_tables, subscribers, tickets
from support.config import Settings
from support.entrypoints.app import Support

TENANT = "isp-1"
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin


@dataclass
class RunningSupport:
    service: Support
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    settings: Settings

    def auth(self, *roles: str, tenant: str = TENANT, subject: str = "sam") -> dict[str, str]:
        token = issue_token(
            JwtConfig(self.settings.jwt_secret, self.settings.jwt_issuer, self.settings.jwt_audience),
            subject=subject, tenant_id=tenant, roles=roles or ("support",),
        )  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, expect: int = 200, roles: tuple[str, ...] = ("support",),
                   **kwargs: Any) -> Any:  # fmt: skip
        response = await self.client.request(method, path, headers=self.auth(*roles), **kwargs)
        assert response.status_code == expect, response.text
        return response.json()

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        """Payloads (the envelopes' data) of `event_type` this service wrote to its outbox."""
        outbox = runtime_tables.outbox
        async with self.service.deps.database.transaction() as session:
            rows = await session.scalars(
                select(outbox.c.payload).where(outbox.c.event_type == event_type).order_by(outbox.c.id)
            )
            return [json.loads(p)["data"] for p in rows]

    async def ticket_count(self, **where: Any) -> int:
        async with self.service.deps.database.transaction() as session:
            query = select(func.count()).select_from(tickets)
            for column, value in where.items():
                query = query.where(tickets.c[column] == value)
            return int(await session.scalar(query) or 0)

    async def knows_subscriber(self, subscriber_id: str, status: str) -> bool:
        async with self.service.deps.database.transaction() as session:
            found = await session.scalar(
                select(subscribers.c.status).where(subscribers.c.subscriber_id == subscriber_id)
            )
            return found == status


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://support"
    ) as client:  # fmt: skip
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def customer_created(customer_id: str) -> CustomerCreated:
    at = START - timedelta(days=30)
    state = CustomerState(customer_id=customer_id, name="Ada Lovelace", created_at=at, updated_at=at)
    return CustomerCreated(customer_id=customer_id, customer=state, changed_fields=())


def subscriber_created(subscriber_id: str, customer_id: str) -> SubscriberCreated:
    return SubscriberCreated(
        subscriber_id=subscriber_id, customer_id=customer_id, username=f"{subscriber_id}@isp", status="active",
        created_at=START - timedelta(days=29),
    )  # fmt: skip


def suspended_by_dunning(subscriber_id: str, customer_id: str) -> SubscriberSuspended:
    return SubscriberSuspended(
        subscriber_id=subscriber_id, customer_id=customer_id, username=f"{subscriber_id}@isp",
        previous_status="active", status="suspended", reason="invoice INV-7 overdue",
        changed_at=START - timedelta(days=2), requested_by="dunning",
    )  # fmt: skip


def dunning_started(customer_id: str, subscriber_id: str) -> DunningStarted:
    return DunningStarted(
        execution_id=unique("exe"), campaign_id="c1", invoice_id="INV-7", customer_id=customer_id,
        subscriber_id=subscriber_id, campaign_name="Standard", outstanding_minor=4999, currency="EUR",
        total_steps=3, started_at=START - timedelta(days=5),
    )  # fmt: skip


def breach(customer_id: str, subscriber_id: str | None, *, breach_id: str | None = None,
           severity: str = "major") -> SlaBreachDetected:  # fmt: skip
    return SlaBreachDetected(
        breach_id=breach_id or unique("breach"), instance_id=unique("inst"), customer_id=customer_id,
        sla_definition_id="gold", service_id=subscriber_id, service_name="Fibre 1000", severity=severity,  # type: ignore[arg-type]
        target_value=99.9, actual_value=97.5, deviation_percent=2.4, period_start=START - timedelta(days=2),
        period_end=START - timedelta(days=1), detected_at=START, credit_amount_minor=500, currency="EUR",
    )  # fmt: skip
