"""Our copy of the customers service's customers and subscribers (billing never reads its tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from bss_contracts.events.customers import CustomerState
from bss_runtime.errors import RuleViolation


async def keep_customer(session: AsyncSession, tenant_id: str, customer: CustomerState) -> None:
    await repo.upsert_customer(
        session,
        {
            "tenant_id": tenant_id, "customer_id": customer.customer_id, "name": customer.name,
            "partner_id": customer.partner_id, "billing_country": customer.billing_country,
            "timezone": customer.timezone, "source_updated_at": customer.updated_at,
        },
    )  # fmt: skip


async def keep_subscriber(
    session: AsyncSession,
    tenant_id: str,
    *,
    subscriber_id: str,
    customer_id: str,
    username: str,
    status: str,
    changed_at: datetime,
    plan_id: str | None = None,
    created: bool = False,
) -> None:
    await repo.upsert_subscriber(
        session,
        {
            "tenant_id": tenant_id, "subscriber_id": subscriber_id, "customer_id": customer_id,
            "username": username, "status": status, "plan_id": plan_id, "changed_at": changed_at,
        },
        keep_plan=not created,  # status events do not carry the plan
    )  # fmt: skip


async def require_customer(
    session: AsyncSession, tenant_id: str, customer_id: str, field: str = "customer_id"
) -> Row[Any]:
    customer = await repo.get_customer(session, tenant_id, customer_id)
    if customer is None:
        raise RuleViolation(
            f"unknown customer {customer_id!r}: billing has not received it from the customers service (yet)",
            field=field,
        )
    return customer


async def require_subscriber(session: AsyncSession, tenant_id: str, subscriber_id: str) -> Row[Any]:
    subscriber = await repo.get_subscriber(session, tenant_id, subscriber_id)
    if subscriber is None:
        raise RuleViolation(
            f"unknown subscriber {subscriber_id!r}: billing has not received it from the customers service (yet)",
            field="subscriber_id",
        )
    return subscriber
