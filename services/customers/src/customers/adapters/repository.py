"""Queries on the service's tables; every one is filtered by tenant_id.

Customers travel between the HTTP API, this module and the events under their API field names; this module
alone knows how they are stored (coordinates are two columns, for instance).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.customers import AssignedDevices, Coordinates, CustomerState
from customers.adapters.tables import (
    customers,
    partners,
    subscriber_requests,
    subscriber_status_changes,
    subscribers,
)

# --- customers ------------------------------------------------------------------------------------------------

_COORDINATES = ("service_latitude", "service_longitude")


def customer_columns(values: Mapping[str, Any]) -> dict[str, Any]:
    """API field values -> column values."""
    out = dict(values)
    if "service_coordinates" in out:
        point = out.pop("service_coordinates")
        out["service_latitude"] = point["lat"] if point else None
        out["service_longitude"] = point["lon"] if point else None
    if out.get("assigned_devices") is not None:
        out["assigned_devices"] = {k: v for k, v in out["assigned_devices"].items() if v is not None}
    return out


def field_of(column: str) -> str:
    """The API field a column belongs to."""
    return "service_coordinates" if column in _COORDINATES else column


def customer_state(row: Row[Any]) -> CustomerState:
    """A stored customer as the API and the events show it."""
    values = dict(row._mapping)
    lat, lon = values.pop("service_latitude"), values.pop("service_longitude")
    devices = values.pop("assigned_devices")
    uptime = values.pop("avg_uptime_percent")
    values.pop("tenant_id")
    return CustomerState(
        customer_id=values.pop("id"),
        service_coordinates=Coordinates(lat=lat, lon=lon) if lat is not None else None,
        assigned_devices=AssignedDevices(**devices) if devices is not None else None,
        avg_uptime_percent=float(uptime) if uptime is not None else None,
        tags=tuple(values.pop("tags")),
        **values,
    )


# The values go as parameters of one statement, compiled once per set of columns given (not a new statement
# with ~45 literal values per request, bench/http).
_INSERT_CUSTOMER = insert(customers).returning(*customers.c)


async def insert_customer(session: AsyncSession, tenant_id: str, customer_id: str, columns: dict[str, Any]) -> Row[Any]:
    return (await session.execute(_INSERT_CUSTOMER, {"tenant_id": tenant_id, "id": customer_id, **columns})).one()


async def get_customer(
    session: AsyncSession, tenant_id: str, customer_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(customers).where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def update_customer(session: AsyncSession, tenant_id: str, customer_id: str, columns: dict[str, Any]) -> Row[Any]:
    stmt = (
        update(customers)
        .where(customers.c.tenant_id == tenant_id, customers.c.id == customer_id)
        .values(**columns)
        .returning(*customers.c)
    )
    return (await session.execute(stmt)).one()


@dataclass(frozen=True)
class CustomerFilter:
    installation_status: str | None = None
    connection_type: str | None = None
    service_city: str | None = None  # case-insensitive
    service_state_province: str | None = None  # case-insensitive
    service_country: str | None = None
    partner_id: str | None = None
    region: str | None = None
    tag: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = customers.c
        out: list[ColumnElement[bool]] = []
        for name in ("installation_status", "connection_type", "service_country", "partner_id", "region"):
            value = getattr(self, name)
            if value is not None:
                out.append(c[name] == value)
        if self.service_state_province is not None:
            out.append(func.lower(c.service_state_province) == self.service_state_province.lower())
        if self.service_city is not None:
            out.append(func.lower(c.service_city) == self.service_city.lower())
        if self.tag is not None:
            out.append(c.tags.contains([self.tag]))
        return out


async def list_customers(
    session: AsyncSession, tenant_id: str, where: CustomerFilter, *, limit: int, offset: int
) -> tuple[Sequence[Row[Any]], int]:
    """One page, oldest first, and how many match in all."""
    condition = and_(customers.c.tenant_id == tenant_id, *where.conditions())
    total = await session.scalar(select(func.count()).select_from(customers).where(condition))
    rows = (
        await session.execute(
            select(customers)
            .where(condition)
            .order_by(customers.c.created_at, customers.c.id)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return rows, int(total or 0)


# --- partners -------------------------------------------------------------------------------------------------


async def insert_partner(session: AsyncSession, tenant_id: str, partner_id: str, name: str, now: datetime) -> Row[Any]:
    stmt = (
        insert(partners)
        .values(tenant_id=tenant_id, id=partner_id, name=name, created_at=now, updated_at=now)
        .returning(*partners.c)
    )
    return (await session.execute(stmt)).one()


async def get_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> Row[Any] | None:
    stmt = select(partners).where(partners.c.tenant_id == tenant_id, partners.c.id == partner_id)
    return (await session.execute(stmt)).one_or_none()


async def list_partners(session: AsyncSession, tenant_id: str, *, limit: int, offset: int) -> Sequence[Row[Any]]:
    stmt = select(partners).where(partners.c.tenant_id == tenant_id).order_by(partners.c.name, partners.c.id)
    return (await session.execute(stmt.limit(limit).offset(offset))).all()


async def rename_partner(
    session: AsyncSession, tenant_id: str, partner_id: str, name: str, now: datetime
) -> Row[Any] | None:
    stmt = (
        update(partners)
        .where(partners.c.tenant_id == tenant_id, partners.c.id == partner_id)
        .values(name=name, updated_at=now)
        .returning(*partners.c)
    )
    return (await session.execute(stmt)).one_or_none()


async def partner_has_customers(session: AsyncSession, tenant_id: str, partner_id: str) -> bool:
    query = exists().where(customers.c.tenant_id == tenant_id, customers.c.partner_id == partner_id)
    return bool(await session.scalar(select(query)))


async def delete_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> bool:
    stmt = delete(partners).where(partners.c.tenant_id == tenant_id, partners.c.id == partner_id)
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- subscribers ----------------------------------------------------------------------------------------------


async def insert_subscriber(session: AsyncSession, tenant_id: str, **values: Any) -> Row[Any]:
    stmt = insert(subscribers).values(tenant_id=tenant_id, **values).returning(*subscribers.c)
    return (await session.execute(stmt)).one()


async def get_subscriber(
    session: AsyncSession, tenant_id: str, subscriber_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(subscribers).where(subscribers.c.tenant_id == tenant_id, subscribers.c.id == subscriber_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def list_subscribers(
    session: AsyncSession,
    tenant_id: str,
    *,
    customer_id: str | None = None,
    status: str | None = None,
    username: str | None = None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Row[Any]], int]:
    c = subscribers.c
    conditions = [c.tenant_id == tenant_id]
    for column, value in (("customer_id", customer_id), ("status", status), ("username", username)):
        if value is not None:
            conditions.append(c[column] == value)
    total = await session.scalar(select(func.count()).select_from(subscribers).where(*conditions))
    rows = (
        await session.execute(
            select(subscribers).where(*conditions).order_by(c.created_at, c.id).limit(limit).offset(offset)
        )
    ).all()
    return rows, int(total or 0)


async def set_subscriber_status(
    session: AsyncSession, tenant_id: str, subscriber_id: str, *, status: str, reason: str | None, at: datetime
) -> Row[Any]:
    stmt = (
        update(subscribers)
        .where(subscribers.c.tenant_id == tenant_id, subscribers.c.id == subscriber_id)
        .values(status=status, status_reason=reason, status_changed_at=at)
        .returning(*subscribers.c)
    )
    return (await session.execute(stmt)).one()


async def insert_status_change(session: AsyncSession, tenant_id: str, **values: Any) -> None:
    await session.execute(insert(subscriber_status_changes).values(tenant_id=tenant_id, **values))


async def status_history(
    session: AsyncSession, tenant_id: str, subscriber_id: str, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    t = subscriber_status_changes
    stmt = (
        select(t).where(t.c.tenant_id == tenant_id, t.c.subscriber_id == subscriber_id).order_by(t.c.changed_at, t.c.id)
    )
    return (await session.execute(stmt.limit(limit).offset(offset))).all()


async def claim_request(session: AsyncSession, tenant_id: str, **values: Any) -> bool:
    """Record a request (outcome still to be set); False if this request_id was already recorded."""
    stmt = (
        pg_insert(subscriber_requests)
        .values(tenant_id=tenant_id, outcome="pending", **values)
        .on_conflict_do_nothing()
        .returning(subscriber_requests.c.request_id)
    )
    return (await session.scalar(stmt)) is not None


async def settle_request(
    session: AsyncSession, tenant_id: str, request_id: str, outcome: str, detail: str | None
) -> None:
    t = subscriber_requests
    stmt = (
        update(t).where(t.c.tenant_id == tenant_id, t.c.request_id == request_id).values(outcome=outcome, detail=detail)
    )
    await session.execute(stmt)


async def requests_for(
    session: AsyncSession, tenant_id: str, subscriber_id: str, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    t = subscriber_requests
    stmt = (
        select(t)
        .where(t.c.tenant_id == tenant_id, t.c.subscriber_id == subscriber_id)
        .order_by(t.c.received_at, t.c.request_id)
    )
    return (await session.execute(stmt.limit(limit).offset(offset))).all()
