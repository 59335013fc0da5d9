"""Queries of the BI tables. Every query is filtered by tenant, except the workers' claims, which take the next
due row of any tenant (`FOR UPDATE SKIP LOCKED`: two workers never take the same row) and from then on work
within that row's tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.bi.adapters.tables import (
    access_log,
    deliveries,
    executions,
    output_chunks,
    outputs,
    schedules,
    templates,
)
from reporting.bi.domain.file_delivery import WAITING

# ---------------------------------------------------------------- templates


async def get_template(
    session: AsyncSession, tenant: str, template_id: str, *, with_deleted: bool = False
) -> Row[Any] | None:
    query = select(templates).where(templates.c.tenant_id == tenant, templates.c.template_id == template_id)
    if not with_deleted:
        query = query.where(templates.c.deleted_at.is_(None))
    return (await session.execute(query)).first()


async def list_templates(session: AsyncSession, tenant: str, *, with_deleted: bool = False) -> Sequence[Row[Any]]:
    query = select(templates).where(templates.c.tenant_id == tenant).order_by(templates.c.name)
    if not with_deleted:
        query = query.where(templates.c.deleted_at.is_(None))
    return (await session.execute(query)).all()


async def update_template(session: AsyncSession, tenant: str, template_id: str, **values: Any) -> None:
    await session.execute(
        update(templates)
        .where(templates.c.tenant_id == tenant, templates.c.template_id == template_id)
        .values(**values)
    )


# ---------------------------------------------------------------- schedules


async def get_schedule(session: AsyncSession, tenant: str, schedule_id: str) -> Row[Any] | None:
    query = select(schedules).where(schedules.c.tenant_id == tenant, schedules.c.schedule_id == schedule_id)
    return (await session.execute(query)).first()


async def list_schedules(session: AsyncSession, tenant: str, template_id: str | None = None) -> Sequence[Row[Any]]:
    query = select(schedules).where(schedules.c.tenant_id == tenant)
    if template_id is not None:
        query = query.where(schedules.c.template_id == template_id)
    return (await session.execute(query.order_by(schedules.c.name, schedules.c.schedule_id))).all()


async def update_schedule(session: AsyncSession, tenant: str, schedule_id: str, **values: Any) -> None:
    await session.execute(
        update(schedules)
        .where(schedules.c.tenant_id == tenant, schedules.c.schedule_id == schedule_id)
        .values(**values)
    )


async def claim_due_schedule(session: AsyncSession, now: datetime) -> Row[Any] | None:
    query = (
        select(schedules)
        .where(schedules.c.enabled, schedules.c.next_run_at <= now)
        .order_by(schedules.c.next_run_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).first()


# ---------------------------------------------------------------- executions


async def get_execution(session: AsyncSession, tenant: str, execution_id: str) -> Row[Any] | None:
    query = select(executions).where(executions.c.tenant_id == tenant, executions.c.execution_id == execution_id)
    return (await session.execute(query)).first()


async def list_executions(
    session: AsyncSession,
    tenant: str,
    *,
    template_ids: Sequence[str],
    status: str | None,
    limit: int,
    offset: int,
) -> Sequence[Row[Any]]:
    query = select(executions).where(executions.c.tenant_id == tenant, executions.c.template_id.in_(template_ids))
    if status is not None:
        query = query.where(executions.c.status == status)
    query = query.order_by(executions.c.requested_at.desc(), executions.c.execution_id).limit(limit).offset(offset)
    return (await session.execute(query)).all()


async def claim_execution(session: AsyncSession, now: datetime) -> Row[Any] | None:
    """The oldest pending execution whose retry time has come, or a running one whose worker's lease ran out."""
    query = (
        select(executions)
        .where(
            or_(
                and_(executions.c.status == "pending", executions.c.not_before <= now),
                and_(executions.c.status == "running", executions.c.lease_until < now),
            )
        )
        .order_by(executions.c.not_before)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).first()


async def update_execution(session: AsyncSession, tenant: str, execution_id: str, **values: Any) -> None:
    await session.execute(
        update(executions)
        .where(executions.c.tenant_id == tenant, executions.c.execution_id == execution_id)
        .values(**values)
    )


# ---------------------------------------------------------------- outputs


async def list_outputs(session: AsyncSession, tenant: str, execution_ids: Sequence[str]) -> Sequence[Row[Any]]:
    query = (
        select(outputs)
        .where(outputs.c.tenant_id == tenant, outputs.c.execution_id.in_(execution_ids))
        .order_by(outputs.c.execution_id, outputs.c.format)
    )
    return (await session.execute(query)).all()


async def get_output(session: AsyncSession, tenant: str, execution_id: str, output_format: str) -> Row[Any] | None:
    query = select(outputs).where(
        outputs.c.tenant_id == tenant, outputs.c.execution_id == execution_id, outputs.c.format == output_format
    )
    return (await session.execute(query)).first()


async def expire_outputs(session: AsyncSession, finished_before: datetime, now: datetime, limit: int) -> int:
    """Remove the content of up to `limit` outputs of executions finished before the cutoff (rows stay: 410)."""
    due = (
        select(outputs.c.tenant_id, outputs.c.execution_id, outputs.c.format)
        .join(
            executions,
            and_(executions.c.tenant_id == outputs.c.tenant_id, executions.c.execution_id == outputs.c.execution_id),
        )
        .where(outputs.c.expired_at.is_(None), executions.c.finished_at < finished_before)
        .limit(limit)
        .with_for_update(of=outputs, skip_locked=True)
    )
    keys = (await session.execute(due)).all()
    for tenant, execution_id, fmt in keys:
        where = (
            output_chunks.c.tenant_id == tenant,
            output_chunks.c.execution_id == execution_id,
            output_chunks.c.format == fmt,
        )
        await session.execute(output_chunks.delete().where(*where))
        await session.execute(
            update(outputs)
            .where(outputs.c.tenant_id == tenant, outputs.c.execution_id == execution_id, outputs.c.format == fmt)
            .values(expired_at=now)
        )
    return len(keys)


# ---------------------------------------------------------------- deliveries


async def list_deliveries(session: AsyncSession, tenant: str, execution_ids: Sequence[str]) -> Sequence[Row[Any]]:
    query = (
        select(deliveries)
        .where(deliveries.c.tenant_id == tenant, deliveries.c.execution_id.in_(execution_ids))
        .order_by(deliveries.c.channel, deliveries.c.delivery_id)
    )
    return (await session.execute(query)).all()


async def claim_delivery(session: AsyncSession, now: datetime) -> Row[Any] | None:
    query = (
        select(deliveries)
        .where(deliveries.c.status.in_(WAITING), deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(query)).first()


async def update_delivery(session: AsyncSession, tenant: str, delivery_id: str, **values: Any) -> None:
    await session.execute(
        update(deliveries)
        .where(deliveries.c.tenant_id == tenant, deliveries.c.delivery_id == delivery_id)
        .values(**values)
    )


async def cancel_deliveries_of_schedule(session: AsyncSession, tenant: str, schedule_id: str, reason: str) -> None:
    await session.execute(
        update(deliveries)
        .where(
            deliveries.c.tenant_id == tenant,
            deliveries.c.schedule_id == schedule_id,
            deliveries.c.status.in_(WAITING),
        )
        .values(status="failed", last_error=reason, next_attempt_at=None)
    )


# ---------------------------------------------------------------- access log


async def log_access(
    session: AsyncSession,
    tenant: str,
    subject: str,
    action: str,
    at: datetime,
    *,
    template_id: str | None = None,
    execution_id: str | None = None,
    schedule_id: str | None = None,
    output_format: str | None = None,
) -> None:
    await session.execute(
        insert(access_log).values(
            tenant_id=tenant,
            at=at,
            subject=subject,
            action=action,
            template_id=template_id,
            execution_id=execution_id,
            schedule_id=schedule_id,
            format=output_format,
        )
    )


async def list_access_log(
    session: AsyncSession, tenant: str, *, since: datetime, until: datetime, limit: int, offset: int
) -> Sequence[Row[Any]]:
    query = (
        select(access_log)
        .where(access_log.c.tenant_id == tenant, access_log.c.at >= since, access_log.c.at < until)
        .order_by(access_log.c.at.desc(), access_log.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return (await session.execute(query)).all()


# ---------------------------------------------------------------- analytics


@dataclass(frozen=True)
class Usage:
    by_template: Sequence[Row[Any]]  # template_id, name, executions, completed, failed, avg_seconds
    by_day: Sequence[Row[Any]]  # day, executions, completed, failed
    by_status: dict[str, int]
    downloads: dict[str, int]  # per template_id
    average_seconds: float | None


def _duration() -> Any:
    return func.extract("epoch", executions.c.finished_at - executions.c.started_at)


async def usage(session: AsyncSession, tenant: str, first_day: date, last_day: date) -> Usage:
    """Executions asked for in [first_day, last_day] (UTC days), and the downloads made in those days."""
    start = datetime.combine(first_day, time(), UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(), UTC)
    in_range = and_(
        executions.c.tenant_id == tenant, executions.c.requested_at >= start, executions.c.requested_at < end
    )
    completed = func.count().filter(executions.c.status == "completed")
    failed = func.count().filter(executions.c.status == "failed")
    avg_seconds = func.avg(case((executions.c.status == "completed", _duration())))

    per_template = (
        select(
            executions.c.template_id,
            templates.c.name,
            func.count().label("executions"),
            completed.label("completed"),
            failed.label("failed"),
            avg_seconds.label("avg_seconds"),
        )
        .join(
            templates,
            and_(templates.c.tenant_id == executions.c.tenant_id, templates.c.template_id == executions.c.template_id),
        )
        .where(in_range)
        .group_by(executions.c.template_id, templates.c.name)
        .order_by(func.count().desc(), executions.c.template_id)
    )
    day = func.date(func.timezone("UTC", executions.c.requested_at))
    per_day = (
        select(day.label("day"), func.count().label("executions"), completed.label("completed"), failed.label("failed"))
        .where(in_range)
        .group_by(day)
        .order_by(day)
    )
    per_status = select(executions.c.status, func.count()).where(in_range).group_by(executions.c.status)
    overall = select(avg_seconds).where(in_range)
    downloads = (
        select(access_log.c.template_id, func.count())
        .where(
            access_log.c.tenant_id == tenant,
            access_log.c.action == "output.downloaded",
            access_log.c.at >= start,
            access_log.c.at < end,
        )
        .group_by(access_log.c.template_id)
    )
    average = await session.scalar(overall)
    return Usage(
        by_template=(await session.execute(per_template)).all(),
        by_day=(await session.execute(per_day)).all(),
        by_status={s: n for s, n in (await session.execute(per_status)).all()},
        downloads={t: n for t, n in (await session.execute(downloads)).all()},
        average_seconds=float(average) if average is not None else None,
    )
