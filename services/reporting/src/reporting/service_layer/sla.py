"""SLA breaches and the credits issued for them into the read model.

Each event writes only the columns it knows, so the row is complete whichever order they come in. The
issued credit of a breach is the sum of its credit notes, recomputed on each one (idempotent). `sla_totals`
follows every change of a breach: its contribution (counted once it is detected, under its currency and
whether it is resolved) is taken out before the change and put back after it.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing as ev
from bss_contracts.money import minor_unit_exponent
from reporting.adapters.tables import ReadModel

SlaEvent = ev.SlaBreachDetected | ev.SlaBreachResolved | ev.SlaCreditIssued


class TotalsKey(NamedTuple):
    currency: str
    resolved: bool


async def _contribution(
    session: AsyncSession, rm: ReadModel, tenant: str, breach_id: str
) -> dict[TotalsKey, tuple[int, int]]:
    """What one breach adds to sla_totals: (1 breach, its issued credit) once detected, else nothing."""
    b = rm.sla_breaches
    row = (
        await session.execute(
            select(b.c.detected_at, b.c.currency, b.c.resolved_at, b.c.credit_issued_minor)
            .where(b.c.tenant_id == tenant, b.c.breach_id == breach_id)
            .with_for_update()
        )
    ).first()
    if row is None or row.detected_at is None or row.currency is None:
        return {}
    return {TotalsKey(row.currency, row.resolved_at is not None): (1, int(row.credit_issued_minor))}


async def _move_totals(
    session: AsyncSession, rm: ReadModel, tenant: str, before: dict[TotalsKey, tuple[int, int]],
    after: dict[TotalsKey, tuple[int, int]],
) -> None:  # fmt: skip
    t = rm.sla_totals
    diff: dict[TotalsKey, tuple[int, int]] = {}
    for sign, contribution in ((-1, before), (1, after)):
        for key, (breaches, credit) in contribution.items():
            n, c = diff.get(key, (0, 0))
            diff[key] = (n + sign * breaches, c + sign * credit)
    for key, (breaches, credit) in sorted(diff.items()):  # a fixed order: fewer lock waits between consumers
        if (breaches, credit) == (0, 0):
            continue
        stmt = insert(t).values(tenant_id=tenant, **key._asdict(), breaches=breaches, credit_issued_minor=credit)
        left = await session.scalar(
            stmt.on_conflict_do_update(
                index_elements=[t.c.tenant_id, t.c.currency, t.c.resolved],
                set_={
                    "breaches": t.c.breaches + stmt.excluded.breaches,
                    "credit_issued_minor": t.c.credit_issued_minor + stmt.excluded.credit_issued_minor,
                },
            ).returning(t.c.breaches)
        )
        if left == 0:  # no breach left there, hence no credit either
            await session.execute(
                delete(t).where(t.c.tenant_id == tenant, t.c.currency == key.currency, t.c.resolved == key.resolved)
            )


async def _upsert(session: AsyncSession, rm: ReadModel, tenant: str, data: SlaEvent, **values: object) -> None:
    b = rm.sla_breaches
    before = await _contribution(session, rm, tenant, data.breach_id)
    stmt = insert(b).values(
        tenant_id=tenant, breach_id=data.breach_id, instance_id=data.instance_id, customer_id=data.customer_id, **values
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[b.c.tenant_id, b.c.breach_id], set_={k: stmt.excluded[k] for k in values}
        )
    )
    await _move_totals(session, rm, tenant, before, await _contribution(session, rm, tenant, data.breach_id))


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
