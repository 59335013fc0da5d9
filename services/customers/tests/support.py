"""Helpers for the customers tests: the service in-process, tokens, bodies, what dunning would publish."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from bss_contracts import Envelope
from bss_contracts.events.customers import SubscriberSuspensionRequested
from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.service import ServiceRuntime
from customers.config import Settings


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    def headers(self, tenant: str, *roles: str, subject: str = "user-1") -> dict[str, str]:
        s = self.settings
        token = issue_token(
            JwtConfig(s.jwt_secret, s.jwt_issuer, s.jwt_audience),
            subject=subject,
            tenant_id=tenant,
            roles=roles or ("admin",),
        )
        return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (migrations, consumer, relay) and talk to it in-process."""
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://customers"
    ) as client:  # fmt: skip
        yield client


def new_tenant() -> str:
    return f"isp-{uuid.uuid4().hex[:8]}"


def full_customer(**overrides: Any) -> dict[str, Any]:
    """A customer with every field filled in."""
    body: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "phone": "+44 20 7946 0958",
        "region": "north-1",
        "tags": ["vip", "fiber"],
        "timezone": "Europe/London",
        "billing_address_line1": "12 St James's Square",
        "billing_city": "London",
        "billing_postal_code": "SW1Y 4JH",
        "billing_country": "gb",
        "service_address_line1": "1 Analytical Row",
        "service_address_line2": "Flat 2",
        "service_city": "Manchester",
        "service_state_province": "Greater Manchester",
        "service_postal_code": "M1 1AA",
        "service_country": "GB",
        "service_coordinates": {"lat": 53.4808, "lon": -2.2426},
        "installation_status": "completed",
        "installation_date": "2025-02-01T10:30:00+01:00",
        "scheduled_installation_date": "2025-02-01T09:00:00Z",
        "installation_technician_id": "tech-17",
        "installation_notes": "ONT in the hallway",
        "connection_type": "ftth",
        "last_mile_technology": "xgs-pon",
        "service_plan_speed": "1000/1000 Mbps",
        "assigned_devices": {"onu_serial": "HWTC1234ABCD", "cpe_mac": "AA-BB-CC-00-11-22", "router_id": "r-9"},
        "current_bandwidth_profile": "gold-1g",
        "static_ip_assigned": "198.51.100.7",
        "ipv6_prefix": "2001:DB8:1200:0::/56",
        "avg_uptime_percent": 99.95,
        "last_outage_date": "2025-01-15T03:00:00Z",
        "total_outages": 2,
        "total_downtime_minutes": 47,
    }
    return body | overrides


def suspension(subscriber_id: str, customer_id: str, *, request_id: str | None = None) -> SubscriberSuspensionRequested:
    return SubscriberSuspensionRequested(
        request_id=request_id or str(uuid.uuid4()),
        subscriber_id=subscriber_id,
        customer_id=customer_id,
        reason="invoice 2025-0042 is 30 days overdue",
        requested_by="dunning",
        invoice_id="inv-42",
        dunning_execution_id="exe-7",
        requested_at=datetime.now(UTC),
    )


async def redeliver(bootstrap: str, prefix: str, envelope: Envelope[Any]) -> None:
    """Send an already published envelope again, byte for byte (same id), as an at-least-once producer might."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{prefix}{envelope.data.topic.name}",
            envelope.model_dump_json().encode(),
            key=envelope.subject.encode(),
            headers=[(k, v.encode()) for k, v in envelope.headers().items()],
        )
    finally:
        await producer.stop()
