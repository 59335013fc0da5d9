"""Helpers of the billing tests: the service in-process, what the customers service and radius-ingest would
publish, and reading back what billing published."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from billing.config import Settings
from billing.entrypoints.app import Billing
from bss_contracts import RawEnvelope
from bss_contracts.events.customers import CustomerCreated, CustomerState, SubscriberActivated, SubscriberCreated
from bss_contracts.events.radius import SessionStarted, SessionStopped, SessionUpdated
from bss_contracts.topics import Topic
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.clock import ManualClock
from bss_testkit.events import EventProbe, eventually, publish_events

TENANT = "isp-1"
START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class RunningBilling:
    service: Billing
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    settings: Settings
    kafka: str
    prefix: str
    tenant: str = TENANT  # tests sharing one running service each use their own tenant

    def for_tenant(self, tenant: str) -> RunningBilling:
        return replace(self, tenant=tenant)

    def auth(self, *roles: str, tenant: str | None = None, subject: str = "alice") -> dict[str, str]:
        token = issue_token(
            JwtConfig(self.settings.jwt_secret, self.settings.jwt_issuer, self.settings.jwt_audience),
            subject=subject, tenant_id=tenant or self.tenant, roles=roles or ("finance",),
        )  # fmt: skip
        return {"Authorization": f"Bearer {token}"}

    async def post(self, path: str, body: Any = None, *, roles: tuple[str, ...] = ("finance",),
                   expect: int = 201) -> Any:  # fmt: skip
        response = await self.client.post(path, json=body, headers=self.auth(*roles))
        assert response.status_code == expect, response.text
        return response.json()

    async def get(self, path: str, *, roles: tuple[str, ...] = ("finance",), expect: int = 200, **params: Any) -> Any:
        response = await self.client.get(path, headers=self.auth(*roles), params=params)
        assert response.status_code == expect, response.text
        return response.json()

    async def publish(self, *events: Any) -> list[Any]:
        return await publish_events(self.kafka, self.prefix, *[(e, self.tenant) for e in events])

    async def publish_and_wait(self, *events: Any) -> None:
        """Publish, then wait until billing has processed every one of them (its processed-events record)."""
        from sqlalchemy import func, select

        from billing.adapters.tables import runtime_tables

        processed = runtime_tables.processed_events
        ids = {envelope.id for envelope in await self.publish(*events)}

        async def all_processed() -> bool:
            async with self.service.deps.database.transaction() as session:
                query = select(func.count()).select_from(processed).where(processed.c.event_id.in_(ids))
                return int((await session.execute(query)).scalar_one()) == len(ids)

        await eventually(all_processed, timeout=60)

    def probe(self, *topics: Topic) -> TenantProbe:
        """What billing publishes on `topics`, for this tenant only."""
        return TenantProbe(EventProbe(self.kafka, self.prefix, *topics), self.tenant)

    async def add_customer(self, customer_id: str, *, timezone: str = "UTC", partner_id: str | None = None,
                           country: str | None = "DE", subscriber_id: str | None = None,
                           username: str | None = None) -> None:  # fmt: skip
        """Publish the customer (and subscriber) as the customers service would; wait until billing has it."""
        events: list[Any] = [customer_created(customer_id, timezone=timezone, partner_id=partner_id, country=country)]
        if subscriber_id is not None:
            events += subscriber_events(subscriber_id, customer_id, username or f"{subscriber_id}@isp")
        await self.publish(*events)

        async def known() -> bool:
            response = await self.client.get(f"/billing/customers/{customer_id}", headers=self.auth())
            if response.status_code != 200:
                return False
            if subscriber_id is None:
                return True
            from billing.adapters.repository import get_subscriber

            async with self.service.deps.database.transaction() as session:
                return await get_subscriber(session, self.tenant, subscriber_id) is not None

        await eventually(known, timeout=60)

    async def invoice(self, customer_id: str, *lines: tuple[str, int], currency: str = "EUR", issue: bool = True,
                      tax_rate_bp: int = 0, **extra: Any) -> dict[str, Any]:  # fmt: skip
        body = {
            "customer_id": customer_id, "currency": currency, "issue": issue,
            "lines": [{"description": d, "unit_price_minor": p, "tax_rate_bp": tax_rate_bp} for d, p in lines],
        } | extra  # fmt: skip
        result: dict[str, Any] = await self.post("/billing/invoices", body)
        return result


@asynccontextmanager
async def serving(app: FastAPI, base_url: str = "http://billing") -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, consumers, relay, workers) and talk to it in-process."""
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=base_url
    ) as client:  # fmt: skip
        yield client


# --- what the customers service and radius-ingest would publish ------------------------------------------------


def customer_created(customer_id: str, *, timezone: str = "UTC", partner_id: str | None = None,
                     country: str | None = "DE", name: str = "Ada Lovelace") -> CustomerCreated:  # fmt: skip
    at = START - timedelta(days=400)
    state = CustomerState(
        customer_id=customer_id, name=name, partner_id=partner_id, billing_country=country, timezone=timezone,
        created_at=at, updated_at=at,
    )  # fmt: skip
    return CustomerCreated(customer_id=customer_id, customer=state)


def subscriber_events(subscriber_id: str, customer_id: str, username: str) -> list[Any]:
    at = START - timedelta(days=390)
    return [
        SubscriberCreated(subscriber_id=subscriber_id, customer_id=customer_id, username=username, created_at=at),
        SubscriberActivated(
            subscriber_id=subscriber_id,
            customer_id=customer_id,
            username=username,
            previous_status="pending",
            status="active",
            changed_at=at + timedelta(hours=1),
        ),
    ]


_SESSION_KINDS = {"start": SessionStarted, "interim": SessionUpdated, "stop": SessionStopped}


def session_event(kind: str, username: str, session_key: str, at: datetime, input_octets: int,
                  output_octets: int = 0, started: datetime | None = None) -> Any:  # fmt: skip
    started = started or at
    return _SESSION_KINDS[kind](
        session_key=session_key, acct_session_id=session_key[-8:], username=username, nas_id="nas-1",
        nas_ip_address="10.0.0.1", event_time=at, session_start_time=started,
        session_time_seconds=int((at - started).total_seconds()), input_octets=input_octets,
        output_octets=output_octets,
    )  # fmt: skip


def of_type(envelopes: list[RawEnvelope], event_type: str, **data: Any) -> list[RawEnvelope]:
    return [e for e in envelopes if e.type == event_type and all(e.data.get(k) == v for k, v in data.items())]


class TenantProbe:
    """An EventProbe that sees one tenant's events only (tests sharing a service share its topics)."""

    def __init__(self, probe: EventProbe, tenant: str) -> None:
        self._probe = probe
        self.tenant = tenant

    async def __aenter__(self) -> TenantProbe:
        await self._probe.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._probe.__aexit__(*exc)

    def _mine(self, envelope: RawEnvelope) -> bool:
        return envelope.tenant_id == self.tenant

    async def wait_for(self, predicate: Any, *, count: int = 1, timeout: float = 30.0) -> list[RawEnvelope]:
        return await self._probe.wait_for(lambda e: self._mine(e) and predicate(e), count=count, timeout=timeout)

    async def settle(self, seconds: float = 1.0) -> list[RawEnvelope]:
        return [e for e in await self._probe.settle(seconds) if self._mine(e)]

    @property
    def seen(self) -> list[RawEnvelope]:
        return [e for e in self._probe.seen if self._mine(e)]
