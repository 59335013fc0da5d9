"""Set-based queries of the bulk kinds (every one filtered by tenant_id): one statement per chunk, not per row."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, and_, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from customers.adapters.tables import customers, partners, subscribers


async def existing_partners(session: AsyncSession, tenant_id: str, ids: Collection[str]) -> set[str]:
    if not ids:
        return set()
    stmt = select(partners.c.id).where(partners.c.tenant_id == tenant_id, partners.c.id.in_(list(ids)))
    return set((await session.scalars(stmt)).all())


async def taken_usernames(session: AsyncSession, tenant_id: str, names: Collection[str]) -> set[str]:
    if not names:
        return set()
    stmt = select(subscribers.c.username).where(
        subscribers.c.tenant_id == tenant_id, subscribers.c.username.in_(list(names))
    )
    return set((await session.scalars(stmt)).all())


async def taken_static_ips(session: AsyncSession, tenant_id: str, ips: Collection[str]) -> set[str]:
    if not ips:
        return set()
    stmt = select(customers.c.static_ip_assigned).where(
        customers.c.tenant_id == tenant_id, customers.c.static_ip_assigned.in_(list(ips))
    )
    return {ip for ip in (await session.scalars(stmt)).all() if ip is not None}


async def insert_customers(session: AsyncSession, rows: list[dict[str, Any]]) -> Sequence[Row[Any]]:
    """Insert many customers at once (each row has every column it sets, tenant_id and id included)."""
    if not rows:
        return []
    # Every row must name the same columns: fill the absent ones with their defaults.
    names = set().union(*rows)
    defaults = {"tags": [], "timezone": "UTC", "total_outages": 0, "total_downtime_minutes": 0}
    full = [{n: r.get(n, defaults.get(n)) for n in names} for r in rows]
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    result = await session.execute(insert(customers).returning(*customers.c, sort_by_parameter_order=True), full)
    return result.all()


_INSERT_SUBSCRIBERS = text(
    f"INSERT INTO {subscribers.name} (tenant_id, id, customer_id, username, plan_id, status, status_changed_at,"  # noqa: S608
    " created_at) SELECT * FROM unnest(CAST(:tenant_ids AS text[]), CAST(:ids AS text[]),"
    " CAST(:customer_ids AS text[]), CAST(:usernames AS text[]), CAST(:plan_ids AS text[]), CAST(:statuses AS text[]),"
    " CAST(:changed AS timestamptz[]), CAST(:created AS timestamptz[]))"
)


async def insert_subscribers(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert many lines with one statement, the values as one array per column (instead of a statement per
    row; bench/bulk/writes.py measures the two)."""
    if not rows:
        return
    await session.execute(
        _INSERT_SUBSCRIBERS,
        {
            "tenant_ids": [r["tenant_id"] for r in rows],
            "ids": [r["id"] for r in rows],
            "customer_ids": [r["customer_id"] for r in rows],
            "usernames": [r["username"] for r in rows],
            "plan_ids": [r.get("plan_id") for r in rows],
            "statuses": [r["status"] for r in rows],
            "changed": [r["status_changed_at"] for r in rows],
            "created": [r["created_at"] for r in rows],
        },
    )


async def subscriber_ids(
    session: AsyncSession,
    tenant_id: str,
    *,
    status: str | None,
    plan_id: str | None,
    customer_id: str | None,
    limit: int,
) -> list[str]:
    """The subscribers a filter selects now (the operation works on this list, not on later arrivals)."""
    c = subscribers.c
    conditions = [c.tenant_id == tenant_id]
    if status is not None:
        conditions.append(c.status == status)
    if plan_id is not None:
        conditions.append(c.plan_id == plan_id)
    if customer_id is not None:
        conditions.append(c.customer_id == customer_id)
    stmt = select(c.id).where(and_(*conditions)).order_by(c.created_at, c.id).limit(limit)
    return list((await session.scalars(stmt)).all())
