"""SLA breaches and the credits issued for them into the read model.

Each event writes only the columns it knows, so the row is complete whichever order they come in. The
issued credit of a breach is the sum of its credit notes, recomputed on each one (idempotent).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing as ev
from bss_contracts.money import minor_unit_exponent
from reporting.adapters.tables import ReadModel

SlaEvent = ev.SlaBreachDetected | ev.SlaBreachResolved | ev.SlaCreditIssued


async def _upsert(session: AsyncSession, rm: ReadModel, tenant: str, data: SlaEvent, **values: object) -> None:
    b = rm.sla_breaches
    stmt = insert(b).values(
        tenant_id=tenant, breach_id=data.breach_id, instance_id=data.instance_id, customer_id=data.customer_id, **values
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[b.c.tenant_id, b.c.breach_id], set_={k: stmt.excluded[k] for k in values}
        )
    )


async def breach_detected(session: AsyncSession, rm: ReadModel, tenant: str, data: ev.SlaBreachDetected) -> None:
    await _upsert(
        session,
        rm,
        tenant,
        data,
        sla_definition_id=data.sla_definition_id,
        service_id=data.service_id,
        service_name=data.service_name,
        breach_type=data.breach_type,
        severity=data.severity,
        target_value=data.target_value,
        actual_value=data.actual_value,
        deviation_percent=data.deviation_percent,
        period_start=data.period_start,
        period_end=data.period_end,
        detected_at=data.detected_at,
        expected_credit_minor=data.credit_amount_minor,
        currency=data.currency,
        currency_exponent=minor_unit_exponent(data.currency),
    )


async def breach_resolved(session: AsyncSession, rm: ReadModel, tenant: str, data: ev.SlaBreachResolved) -> None:
    await _upsert(session, rm, tenant, data, resolved_at=data.resolved_at, resolution=data.resolution)


async def credit_issued(session: AsyncSession, rm: ReadModel, tenant: str, data: ev.SlaCreditIssued) -> None:
    credits = rm.sla_credits
    await session.execute(
        insert(credits)
        .values(
            tenant_id=tenant,
            credit_note_id=data.credit_note_id,
            breach_id=data.breach_id,
            instance_id=data.instance_id,
            amount_minor=data.amount_minor,
            currency=data.currency,
            issued_at=data.issued_at,
        )
        .on_conflict_do_nothing()
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(credits.c.amount_minor), 0)).where(
            credits.c.tenant_id == tenant, credits.c.breach_id == data.breach_id
        )
    )
    await _upsert(
        session,
        rm,
        tenant,
        data,
        credit_issued_minor=int(total or 0),
        currency=data.currency,
        currency_exponent=minor_unit_exponent(data.currency),
    )
