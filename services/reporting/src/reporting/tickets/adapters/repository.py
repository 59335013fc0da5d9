"""Queries of the support SLA report; every one filtered by tenant."""
# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ACTIVE = ("new", "open", "pending_customer", "reopened")
NAS_LOOKBACK = timedelta(days=90)  # a subscriber's NAS: that of its latest session started in the 90 days before `to`


async def opened_in(conn: AsyncConnection, schema: str, tenant: str, start: datetime, end: datetime) -> list[Any]:
    """The tickets opened in [start, end): their type, priority, response and resolution times and breaches."""
    rows = await conn.execute(
        text(f"""
            SELECT ticket_id, ticket_type, priority, response_seconds, resolution_seconds,
                   response_breached OR resolution_breached AS breached
            FROM "{schema}".support_tickets
            WHERE tenant_id = :tenant AND opened_at >= :start AND opened_at < :end
        """),
        {"tenant": tenant, "start": start, "end": end},
    )
    return list(rows.all())


async def resolved_in(conn: AsyncConnection, schema: str, tenant: str, start: datetime, end: datetime) -> int:
    found = await conn.scalar(
        text(f"""
            SELECT count(*) FROM "{schema}".support_tickets
            WHERE tenant_id = :tenant AND resolved_at >= :start AND resolved_at < :end
        """),
        {"tenant": tenant, "start": start, "end": end},
    )
    return int(found or 0)


async def backlog(conn: AsyncConnection, schema: str, tenant: str) -> list[datetime]:
    """When each ticket still active was opened."""
    rows = await conn.execute(
        text(f"""
            SELECT opened_at FROM "{schema}".support_tickets
            WHERE tenant_id = :tenant AND status = ANY(:active)
        """),
        {"tenant": tenant, "active": list(ACTIVE)},
    )
    return [r[0] for r in rows.all()]


async def by_region(conn: AsyncConnection, schema: str, tenant: str, start: datetime, end: datetime) -> list[Any]:
    """Per region of the ticket's customer: tickets opened in [start, end), and the region's subscribers that are
    not terminated (customers without a region: 'unknown')."""
    rows = await conn.execute(
        text(f"""
            WITH t AS (
                SELECT coalesce(c.region, 'unknown') AS region, count(*) AS tickets
                FROM "{schema}".support_tickets k
                LEFT JOIN "{schema}".customers c ON c.tenant_id = k.tenant_id AND c.customer_id = k.customer_id
                WHERE k.tenant_id = :tenant AND k.opened_at >= :start AND k.opened_at < :end
                GROUP BY 1
            ), s AS (
                SELECT coalesce(c.region, 'unknown') AS region, count(*) AS subscribers
                FROM "{schema}".subscribers s
                LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
                WHERE s.tenant_id = :tenant AND s.status IS DISTINCT FROM 'terminated'
                GROUP BY 1
            )
            SELECT coalesce(t.region, s.region) AS region, coalesce(t.tickets, 0), coalesce(s.subscribers, 0)
            FROM t FULL JOIN s ON s.region = t.region
            ORDER BY 1
        """),
        {"tenant": tenant, "start": start, "end": end},
    )
    return list(rows.all())


async def by_nas(conn: AsyncConnection, schema: str, tenant: str, start: datetime, end: datetime) -> list[Any]:
    """Per NAS: tickets opened in [start, end) that affect a subscriber on it (a ticket on two NAS counts for
    both), and the subscribers on it. A subscriber is on the NAS of its latest session started in the 90 days
    before `end`."""
    rows = await conn.execute(
        text(f"""
            WITH latest AS (
                SELECT DISTINCT ON (x.username) x.username, x.nas_id
                FROM "{schema}".sessions x
                WHERE x.tenant_id = :tenant AND x.start_time >= :since AND x.start_time < :end
                ORDER BY x.username, x.start_time DESC
            ), placed AS (
                SELECT s.subscriber_id, l.nas_id
                FROM "{schema}".subscribers s JOIN latest l ON l.username = s.username
                WHERE s.tenant_id = :tenant
            ), t AS (
                SELECT p.nas_id, count(DISTINCT k.ticket_id) AS tickets
                FROM "{schema}".support_tickets k
                CROSS JOIN LATERAL unnest(k.subscriber_ids) AS a(subscriber_id)
                JOIN placed p ON p.subscriber_id = a.subscriber_id
                WHERE k.tenant_id = :tenant AND k.opened_at >= :start AND k.opened_at < :end
                GROUP BY 1
            ), n AS (SELECT nas_id, count(*) AS subscribers FROM placed GROUP BY 1)
            SELECT n.nas_id, coalesce(t.tickets, 0), n.subscribers
            FROM n LEFT JOIN t ON t.nas_id = n.nas_id
            ORDER BY 1
        """),
        {"tenant": tenant, "start": start, "end": end, "since": end - NAS_LOOKBACK},
    )
    return list(rows.all())
