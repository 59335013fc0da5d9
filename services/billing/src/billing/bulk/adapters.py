"""Set-based queries of billing's bulk kinds (every one filtered by tenant_id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.tables import invoices, subscriptions, usage_resets


async def active_subscription_ids(
    session: AsyncSession, tenant_id: str, *, plan_id: str | None, customer_id: str | None, limit: int
) -> list[str]:
    """The active subscriptions a filter selects now (the operation works on this list, not on later ones)."""
    c = subscriptions.c
    conditions = [c.tenant_id == tenant_id, c.status == "active"]
    if plan_id is not None:
        conditions.append(c.plan_id == plan_id)
    if customer_id is not None:
        conditions.append(c.customer_id == customer_id)
    stmt = select(c.id).where(and_(*conditions)).order_by(c.created_at, c.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def draft_invoice_ids(
    session: AsyncSession, tenant_id: str, *, customer_id: str | None, currency: str | None, limit: int
) -> list[str]:
    c = invoices.c
    conditions = [c.tenant_id == tenant_id, c.status == "draft"]
    if customer_id is not None:
        conditions.append(c.customer_id == customer_id)
    if currency is not None:
        conditions.append(c.currency == currency)
    stmt = select(c.id).where(and_(*conditions)).order_by(c.created_at, c.id).limit(limit)
    return list((await session.scalars(stmt)).all())


async def insert_usage_resets(
    session: AsyncSession,
    tenant_id: str,
    resets: Sequence[tuple[str, date, datetime]],
    *,
    reset_at: datetime,
    requested_by: str,
    operation_id: str,
) -> None:
    """(subscription id, cycle start, counts from) for each reset, with one INSERT (a repeat is a no-op)."""
    if not resets:
        return
    rows = [
        {
            "tenant_id": tenant_id, "subscription_id": sid, "period_start": start, "counts_from": counts_from,
            "reset_at": reset_at, "requested_by": requested_by, "operation_id": operation_id,
        }
        for sid, start, counts_from in resets
    ]  # fmt: skip
    await session.execute(insert(usage_resets).on_conflict_do_nothing(), rows)
