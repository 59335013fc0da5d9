"""The selection query of dunning's bulk kind (filtered by tenant_id)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dunning.adapters.tables import executions
from dunning.domain.execution import ACTIVE_STATUSES


async def active_execution_ids(
    session: AsyncSession,
    tenant_id: str,
    *,
    campaign_id: str | None,
    customer_id: str | None,
    subscriber_id: str | None,
    started_before: datetime | None,
    limit: int,
) -> list[str]:
    """The pending or in-progress executions a filter selects now (the operation works on this list)."""
    e = executions.c
    conditions = [e.tenant_id == tenant_id, e.status.in_([s.value for s in ACTIVE_STATUSES])]
    for column, value in ((e.campaign_id, campaign_id), (e.customer_id, customer_id), (e.subscriber_id, subscriber_id)):
        if value is not None:
            conditions.append(column == value)
    if started_before is not None:
        conditions.append(e.started_at < started_before)
    stmt = select(e.id).where(and_(*conditions)).order_by(e.started_at, e.id).limit(limit)
    return list((await session.scalars(stmt)).all())
