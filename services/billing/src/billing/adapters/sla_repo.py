"""Queries on SLA definitions, instances, outages and breaches; every one filtered by tenant_id (the
schedulers' claim queries find work across tenants, then act within the row's tenant)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.tables import sla_breaches, sla_definitions, sla_instances, sla_outages


async def insert_definition(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(sla_definitions).values(**values).returning(*sla_definitions.c))).one()


async def get_definition(session: AsyncSession, tenant_id: str, definition_id: str) -> Row[Any] | None:
    stmt = select(sla_definitions).where(
        sla_definitions.c.tenant_id == tenant_id, sla_definitions.c.id == definition_id
    )
    return (await session.execute(stmt)).one_or_none()


async def list_definitions(session: AsyncSession, tenant_id: str, *, limit: int, offset: int) -> Sequence[Row[Any]]:
    stmt = select(sla_definitions).where(sla_definitions.c.tenant_id == tenant_id)
    stmt = stmt.order_by(sla_definitions.c.name, sla_definitions.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()


async def insert_instance(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(sla_instances).values(**values).returning(*sla_instances.c))).one()


async def get_instance(
    session: AsyncSession, tenant_id: str, instance_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(sla_instances).where(sla_instances.c.tenant_id == tenant_id, sla_instances.c.id == instance_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def list_instances(
    session: AsyncSession, tenant_id: str, customer_id: str | None, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    stmt = select(sla_instances).where(sla_instances.c.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(sla_instances.c.customer_id == customer_id)
    stmt = stmt.order_by(sla_instances.c.created_at, sla_instances.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()


async def update_instance(session: AsyncSession, tenant_id: str, instance_id: str, **values: Any) -> Row[Any]:
    stmt = (
        update(sla_instances)
        .where(sla_instances.c.tenant_id == tenant_id, sla_instances.c.id == instance_id)
        .values(**values)
        .returning(*sla_instances.c)
    )
    return (await session.execute(stmt)).one()


async def claim_instance_to_finalize(
    session: AsyncSession, now: datetime, tenant_id: str | None = None
) -> Row[Any] | None:
    tenant = [sla_instances.c.tenant_id == tenant_id] if tenant_id is not None else []
    stmt = (
        select(sla_instances)
        .where(*tenant, sla_instances.c.next_evaluation_at <= now)
        .order_by(sla_instances.c.next_evaluation_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).one_or_none()


async def instances_with_ongoing_outages(session: AsyncSession, tenant_id: str | None = None) -> Sequence[Any]:
    """(tenant_id, id) of instances with an outage still going on."""
    o = sla_outages
    tenant = [sla_instances.c.tenant_id == tenant_id] if tenant_id is not None else []
    stmt = select(sla_instances.c.tenant_id, sla_instances.c.id).where(
        *tenant,
        exists().where(
            o.c.tenant_id == sla_instances.c.tenant_id, o.c.instance_id == sla_instances.c.id, o.c.ended_at.is_(None)
        ),
    )
    return (await session.execute(stmt)).all()


async def try_lock_instance(session: AsyncSession, tenant_id: str, instance_id: str) -> Row[Any] | None:
    stmt = (
        select(sla_instances)
        .where(sla_instances.c.tenant_id == tenant_id, sla_instances.c.id == instance_id)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(stmt)).one_or_none()


# --- outages ----------------------------------------------------------------------------------------------------


async def insert_outage(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(sla_outages).values(**values).returning(*sla_outages.c))).one()


async def get_outage(session: AsyncSession, tenant_id: str, outage_id: str) -> Row[Any] | None:
    stmt = select(sla_outages).where(sla_outages.c.tenant_id == tenant_id, sla_outages.c.id == outage_id)
    return (await session.execute(stmt)).one_or_none()


async def outage_by_external_id(
    session: AsyncSession, tenant_id: str, instance_id: str, external_id: str
) -> Row[Any] | None:
    stmt = select(sla_outages).where(
        sla_outages.c.tenant_id == tenant_id,
        sla_outages.c.instance_id == instance_id,
        sla_outages.c.external_id == external_id,
    )
    return (await session.execute(stmt)).one_or_none()


async def end_outage(session: AsyncSession, tenant_id: str, outage_id: str, ended_at: datetime) -> Row[Any]:
    stmt = (
        update(sla_outages)
        .where(sla_outages.c.tenant_id == tenant_id, sla_outages.c.id == outage_id)
        .values(ended_at=ended_at)
        .returning(*sla_outages.c)
    )
    return (await session.execute(stmt)).one()


async def outages_overlapping(
    session: AsyncSession, tenant_id: str, instance_id: str, starts_at: datetime, ends_at: datetime
) -> Sequence[Row[Any]]:
    o = sla_outages
    stmt = (
        select(o)
        .where(
            o.c.tenant_id == tenant_id,
            o.c.instance_id == instance_id,
            o.c.started_at < ends_at,
            (o.c.ended_at.is_(None)) | (o.c.ended_at > starts_at),
        )
        .order_by(o.c.started_at)
    )
    return (await session.execute(stmt)).all()


async def outages_of(
    session: AsyncSession, tenant_id: str, instance_id: str, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    stmt = (
        select(sla_outages)
        .where(sla_outages.c.tenant_id == tenant_id, sla_outages.c.instance_id == instance_id)
        .order_by(sla_outages.c.started_at, sla_outages.c.id)
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(stmt)).all()


# --- breaches ---------------------------------------------------------------------------------------------------


async def breach_of_period(
    session: AsyncSession, tenant_id: str, instance_id: str, period_start: date
) -> Row[Any] | None:
    stmt = (
        select(sla_breaches)
        .where(
            sla_breaches.c.tenant_id == tenant_id,
            sla_breaches.c.instance_id == instance_id,
            sla_breaches.c.period_start == period_start,
        )
        .with_for_update()
    )
    return (await session.execute(stmt)).one_or_none()


async def get_breach(session: AsyncSession, tenant_id: str, breach_id: str, *, lock: bool = False) -> Row[Any] | None:
    stmt = select(sla_breaches).where(sla_breaches.c.tenant_id == tenant_id, sla_breaches.c.id == breach_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def insert_breach(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(sla_breaches).values(**values).returning(*sla_breaches.c))).one()


async def update_breach(session: AsyncSession, tenant_id: str, breach_id: str, **values: Any) -> Row[Any]:
    stmt = (
        update(sla_breaches)
        .where(sla_breaches.c.tenant_id == tenant_id, sla_breaches.c.id == breach_id)
        .values(**values)
        .returning(*sla_breaches.c)
    )
    return (await session.execute(stmt)).one()


async def list_breaches(
    session: AsyncSession,
    tenant_id: str,
    *,
    instance_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> Sequence[Row[Any]]:
    stmt = select(sla_breaches).where(sla_breaches.c.tenant_id == tenant_id)
    for column, value in (
        (sla_breaches.c.instance_id, instance_id),
        (sla_breaches.c.customer_id, customer_id),
        (sla_breaches.c.status, status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    stmt = stmt.order_by(sla_breaches.c.detected_at, sla_breaches.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()
