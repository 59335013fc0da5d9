"""Dunning executions into the read model (one row per execution; columns per event, any order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import dunning as ev
from reporting.adapters.tables import ReadModel

DunningEvent = ev.DunningStarted | ev.DunningStepExecuted | ev.DunningCompleted | ev.DunningCanceled


async def execution_changed(session: AsyncSession, rm: ReadModel, tenant: str, data: DunningEvent) -> None:
    d = rm.dunning_executions
    values: dict[str, object] = {}
    if isinstance(data, ev.DunningStarted):
        values = {"campaign_name": data.campaign_name, "started_at": data.started_at, "status": "active"}
    elif isinstance(data, ev.DunningStepExecuted):
        values = {"last_step_number": data.step_number, "last_step_at": data.executed_at, "status": "active"}
    elif isinstance(data, ev.DunningCompleted):
        values = {"status": "completed", "outcome": data.outcome, "ended_at": data.completed_at}
    else:
        values = {"status": "canceled", "ended_at": data.canceled_at}
    stmt = insert(d).values(
        tenant_id=tenant,
        execution_id=data.execution_id,
        campaign_id=data.campaign_id,
        invoice_id=data.invoice_id,
        customer_id=data.customer_id,
        subscriber_id=data.subscriber_id,
        **values,
    )
    x = stmt.excluded
    updates: dict[str, Any] = {k: x[k] for k in values}
    # An execution that ended stays ended; the last step is the highest one, whatever the order.
    updates["status"] = case((d.c.ended_at.is_not(None) & x.ended_at.is_(None), d.c.status), else_=x.status)
    if "last_step_number" in values:
        updates["last_step_number"] = func.greatest(d.c.last_step_number, x.last_step_number)
        updates["last_step_at"] = func.greatest(d.c.last_step_at, x.last_step_at)
    await session.execute(stmt.on_conflict_do_update(index_elements=[d.c.tenant_id, d.c.execution_id], set_=updates))
