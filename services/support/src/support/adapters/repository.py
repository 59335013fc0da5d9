"""Queries of the support service; every one is filtered by tenant_id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from support.adapters.tables import (
    attachments,
    calendars,
    comments,
    customers,
    dunning,
    history,
    outage_policies,
    sla_policies,
    subscribers,
    tickets,
)
from support.domain.business_calendar import BusinessCalendar, Pause
from support.domain.tickets import SlaTarget

# --- tickets -------------------------------------------------------------------------------------------------


async def insert_ticket(session: AsyncSession, values: Mapping[str, Any], *, on_breach_conflict: bool = False) -> bool:
    """Insert a ticket; with `on_breach_conflict`, a second ticket for the same SLA breach is skipped (False)."""
    stmt = insert(tickets).values(**values)
    if on_breach_conflict:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["tenant_id", "sla_breach_id"], index_where=tickets.c.sla_breach_id.isnot(None)
        )
    result = await session.execute(stmt.returning(tickets.c.id))
    return result.scalar_one_or_none() is not None


async def get_ticket(session: AsyncSession, tenant_id: str, ticket_id: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(tickets).where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).first()


async def update_ticket(session: AsyncSession, tenant_id: str, ticket_id: str, values: Mapping[str, Any]) -> None:
    await session.execute(
        update(tickets)
        .where(tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id)
        .values(**values, updated_at=func.now())
    )


@dataclass(frozen=True)
class TicketFilter:
    status: Sequence[str] = ()
    ticket_type: Sequence[str] = ()
    priority: Sequence[str] = ()
    channel: Sequence[str] = ()
    assignee: str | None = None
    breached: bool | None = None
    customer_id: str | None = None
    subscriber_id: str | None = None
    address: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search_tickets(
    session: AsyncSession, tenant_id: str, f: TicketFilter, *, limit: int, offset: int
) -> tuple[list[Row[Any]], int]:
    """A page of tickets (newest first) and the number of all that match."""
    where = [tickets.c.tenant_id == tenant_id]
    if f.status:
        where.append(tickets.c.status.in_(f.status))
    if f.ticket_type:
        where.append(tickets.c.ticket_type.in_(f.ticket_type))
    if f.priority:
        where.append(tickets.c.priority.in_(f.priority))
    if f.channel:
        where.append(tickets.c.channel.in_(f.channel))
    if f.assignee is not None:
        where.append(tickets.c.assignee == f.assignee)
    if f.breached is not None:
        either = or_(tickets.c.response_breached, tickets.c.resolution_breached)
        where.append(either if f.breached else ~either)
    if f.customer_id is not None:
        where.append(tickets.c.customer_id == f.customer_id)
    if f.subscriber_id is not None:
        where.append(tickets.c.subscriber_ids.contains([f.subscriber_id]))
    if f.address is not None:
        where.append(tickets.c.service_address.ilike(_like(f.address), escape="\\"))
    if f.created_from is not None:
        where.append(tickets.c.opened_at >= f.created_from)
    if f.created_to is not None:
        where.append(tickets.c.opened_at < f.created_to)
    total = await session.scalar(select(func.count()).select_from(tickets).where(*where))
    rows = await session.execute(
        select(tickets).where(*where).order_by(tickets.c.opened_at.desc(), tickets.c.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


async def due_for_breach(session: AsyncSession, now: datetime, limit: int) -> list[Row[Any]]:
    """Active tickets (every tenant) whose running clock is past due and not yet marked; locked, SKIP LOCKED, so
    that each is handed to one scheduler replica only."""
    running = tickets.c.status.in_(("new", "open", "reopened"))
    response_late = and_(
        ~tickets.c.response_breached, tickets.c.first_response_at.is_(None), tickets.c.response_due_at <= now
    )
    resolution_late = and_(~tickets.c.resolution_breached, tickets.c.resolution_due_at <= now)
    query = (
        select(tickets)
        .where(running, or_(response_late, resolution_late))
        .order_by(tickets.c.resolution_due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.execute(query))


async def add_history(
    session: AsyncSession, tenant_id: str, ticket_id: str, at: datetime, actor: str, action: str,
    changes: Mapping[str, Any],
) -> None:  # fmt: skip
    await session.execute(
        history.insert().values(
            tenant_id=tenant_id, ticket_id=ticket_id, at=at, actor=actor, action=action, changes=dict(changes)
        )
    )


async def history_of(session: AsyncSession, tenant_id: str, ticket_id: str) -> list[Row[Any]]:
    query = select(history).where(history.c.tenant_id == tenant_id, history.c.ticket_id == ticket_id)
    return list(await session.execute(query.order_by(history.c.id)))


async def add_comment(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await session.execute(comments.insert().values(**values))


async def comments_of(session: AsyncSession, tenant_id: str, ticket_id: str) -> list[Row[Any]]:
    query = select(comments).where(comments.c.tenant_id == tenant_id, comments.c.ticket_id == ticket_id)
    return list(await session.execute(query.order_by(comments.c.created_at, comments.c.id)))


async def add_attachment(session: AsyncSession, values: Mapping[str, Any]) -> None:
    await session.execute(attachments.insert().values(**values))


async def attachments_of(session: AsyncSession, tenant_id: str, ticket_id: str) -> list[Row[Any]]:
    query = select(attachments).where(attachments.c.tenant_id == tenant_id, attachments.c.ticket_id == ticket_id)
    return list(await session.execute(query.order_by(attachments.c.created_at, attachments.c.id)))


# --- settings per tenant -------------------------------------------------------------------------------------


def _time(text: str) -> time:
    return time.max if text == "24:00" else time.fromisoformat(text)


def calendar_from(timezone: str, hours: Mapping[str, Sequence[str]], holidays: Sequence[str]) -> BusinessCalendar:
    """The calendar as stored (raises ValueError for hours that are not a day's opening before its closing)."""
    spans = {int(day): (_time(span[0]), _time(span[1])) for day, span in hours.items()}
    return BusinessCalendar(timezone, spans, frozenset(date.fromisoformat(d) for d in holidays))


def calendar_of_row(row: Row[Any] | None) -> BusinessCalendar:
    return BusinessCalendar() if row is None else calendar_from(row.timezone, row.hours, row.holidays)


async def calendar(session: AsyncSession, tenant_id: str) -> BusinessCalendar:
    row = (await session.execute(select(calendars).where(calendars.c.tenant_id == tenant_id))).first()
    return calendar_of_row(row)


async def calendar_row(session: AsyncSession, tenant_id: str) -> Row[Any] | None:
    return (await session.execute(select(calendars).where(calendars.c.tenant_id == tenant_id))).first()


async def put_calendar(
    session: AsyncSession, tenant_id: str, timezone: str, hours: Mapping[str, list[str]], holidays: list[str]
) -> None:
    stmt = insert(calendars).values(tenant_id=tenant_id, timezone=timezone, hours=dict(hours), holidays=holidays)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"],
            set_={"timezone": stmt.excluded.timezone, "hours": stmt.excluded.hours, "holidays": stmt.excluded.holidays},
        )
    )


async def policies(session: AsyncSession, tenant_id: str) -> dict[tuple[str, str | None], SlaTarget]:
    rows = await session.execute(select(sla_policies).where(sla_policies.c.tenant_id == tenant_id))
    return {
        (r.priority, None if r.ticket_type == "*" else r.ticket_type): SlaTarget(
            timedelta(minutes=r.response_minutes), timedelta(minutes=r.resolution_minutes)
        )
        for r in rows
    }


async def policy_rows(session: AsyncSession, tenant_id: str) -> list[Row[Any]]:
    query = select(sla_policies).where(sla_policies.c.tenant_id == tenant_id)
    return list(await session.execute(query.order_by(sla_policies.c.priority, sla_policies.c.ticket_type)))


async def put_policy(
    session: AsyncSession, tenant_id: str, priority: str, ticket_type: str, response: int, resolution: int
) -> None:
    stmt = insert(sla_policies).values(
        tenant_id=tenant_id, priority=priority, ticket_type=ticket_type, response_minutes=response,
        resolution_minutes=resolution,
    )  # fmt: skip
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "priority", "ticket_type"],
            set_={"response_minutes": response, "resolution_minutes": resolution},
        )
    )


async def outage_policy(session: AsyncSession, tenant_id: str) -> tuple[bool, str]:
    """(enabled, minimum severity); a tenant that set nothing gets tickets for every breach."""
    row = (await session.execute(select(outage_policies).where(outage_policies.c.tenant_id == tenant_id))).first()
    return (True, "minor") if row is None else (bool(row.enabled), str(row.min_severity))


async def put_outage_policy(session: AsyncSession, tenant_id: str, enabled: bool, min_severity: str) -> None:
    stmt = insert(outage_policies).values(tenant_id=tenant_id, enabled=enabled, min_severity=min_severity)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id"], set_={"enabled": enabled, "min_severity": min_severity}
        )
    )


# --- copies of other services' facts -------------------------------------------------------------------------


async def upsert_customer(session: AsyncSession, values: Mapping[str, Any]) -> None:
    stmt = insert(customers).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "customer_id"],
            set_={
                "name": stmt.excluded.name,
                "timezone": stmt.excluded.timezone,
                "updated_at": stmt.excluded.updated_at,
            },
            where=customers.c.updated_at <= stmt.excluded.updated_at,
        )
    )


async def customer_exists(session: AsyncSession, tenant_id: str, customer_id: str) -> bool:
    query = select(customers.c.customer_id).where(
        customers.c.tenant_id == tenant_id, customers.c.customer_id == customer_id
    )
    return (await session.scalar(query)) is not None


async def upsert_subscriber(session: AsyncSession, values: Mapping[str, Any]) -> None:
    """Keep the latest status (by the time customers changed it)."""
    stmt = insert(subscribers).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "subscriber_id"],
            set_={c: stmt.excluded[c] for c in values if c not in ("tenant_id", "subscriber_id")},
            where=subscribers.c.changed_at <= stmt.excluded.changed_at,
        )
    )


async def subscribers_of(session: AsyncSession, tenant_id: str, subscriber_ids: Sequence[str]) -> list[Row[Any]]:
    if not subscriber_ids:
        return []
    query = select(subscribers).where(
        subscribers.c.tenant_id == tenant_id, subscribers.c.subscriber_id.in_(list(subscriber_ids))
    )
    return list(await session.execute(query.order_by(subscribers.c.subscriber_id)))


async def upsert_dunning(session: AsyncSession, values: Mapping[str, Any]) -> None:
    stmt = insert(dunning).values(**values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "execution_id"],
            set_={c: stmt.excluded[c] for c in values if c not in ("tenant_id", "execution_id")},
            where=dunning.c.updated_at <= stmt.excluded.updated_at,
        )
    )


async def dunning_of(session: AsyncSession, tenant_id: str, customer_id: str) -> list[Row[Any]]:
    query = select(dunning).where(dunning.c.tenant_id == tenant_id, dunning.c.customer_id == customer_id)
    return list(await session.execute(query.order_by(dunning.c.updated_at.desc()).limit(20)))


def pauses_of(row: Row[Any]) -> list[Pause]:
    return [
        (datetime.fromisoformat(start), None if end is None else datetime.fromisoformat(end))
        for start, end in row.pauses
    ]


def pauses_json(pauses: Sequence[Pause]) -> list[list[str | None]]:
    return [[start.isoformat(), None if end is None else end.isoformat()] for start, end in pauses]
