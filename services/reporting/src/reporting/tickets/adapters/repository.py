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


# ---------------------------------------------------------------- a ticket's lines and their sessions

_OPEN_COLUMNS = """s.username, s.session_key, s.acct_session_id, s.start_time, s.stop_time, s.time AS last_update,
                   s.nas_id, s.nas_ip_address, s.framed_ip_address, s.framed_ipv6_prefix, s.session_time_seconds,
                   s.input_octets, s.output_octets"""
_RECENT_COLUMNS = """s.username, s.session_key, s.acct_session_id, s.start_time, s.stop_time, s.stop_source,
                     s.terminate_cause, s.time AS last_update, s.nas_id, s.nas_ip_address, s.framed_ip_address,
                     s.session_time_seconds, s.input_octets, s.output_octets"""


async def ticket(conn: AsyncConnection, schema: str, tenant: str, ticket_id: str) -> Any | None:
    """The ticket (id, status, type, customer, affected subscribers in its order), None if not this tenant's."""
    rows = await conn.execute(
        text(f"""
            SELECT ticket_id, status, ticket_type, customer_id, subscriber_ids
            FROM "{schema}".support_tickets WHERE tenant_id = :tenant AND ticket_id = :ticket_id
        """),
        {"tenant": tenant, "ticket_id": ticket_id},
    )
    return rows.first()


async def usernames(conn: AsyncConnection, schema: str, tenant: str, subscriber_ids: list[str]) -> dict[str, str]:
    """subscriber_id -> username, for the subscribers known here that have one."""
    rows = await conn.execute(
        text(f"""
            SELECT subscriber_id, username FROM "{schema}".subscribers
            WHERE tenant_id = :tenant AND subscriber_id = ANY(CAST(:ids AS text[])) AND username IS NOT NULL
        """),
        {"tenant": tenant, "ids": subscriber_ids},
    )
    return {r[0]: r[1] for r in rows.all()}


async def unstopped_since(
    conn: AsyncConnection, schema: str, tenant: str, users: list[str], cutoff: datetime
) -> list[Any]:
    """The usernames' sessions without a stop whose last record is after `cutoff`: every one that can be online
    now (the caller applies the rule), newest start first. `time` is the last record of a session without a
    stop, so this is a range of the (tenant, username, time) index in each partition."""
    rows = await conn.execute(
        text(f"""
            SELECT {_OPEN_COLUMNS} FROM "{schema}".sessions s
            WHERE s.tenant_id = :tenant AND s.username = ANY(CAST(:users AS text[])) AND s.time > :cutoff
              AND s.stop_time IS NULL
            ORDER BY s.username, s.start_time DESC, s.session_key DESC
        """),
        {"tenant": tenant, "users": users, "cutoff": cutoff},
    )
    return list(rows.all())


async def started_since(
    conn: AsyncConnection, schema: str, tenant: str, users: list[str], since: datetime, limit: int
) -> list[Any]:
    """Per username, its sessions started at or after `since`, newest start first, at most `limit` each (the
    monthly partitions before `since` are not read)."""
    rows = await conn.execute(
        text(f"""
            SELECT r.* FROM unnest(CAST(:users AS text[])) AS u(username)
            CROSS JOIN LATERAL (
                SELECT {_RECENT_COLUMNS} FROM "{schema}".sessions s
                WHERE s.tenant_id = :tenant AND s.username = u.username AND s.start_time >= :since
                ORDER BY s.start_time DESC, s.session_key DESC
                LIMIT :limit
            ) r
            ORDER BY r.username, r.start_time DESC, r.session_key DESC
        """),
        {"tenant": tenant, "users": users, "since": since, "limit": limit},
    )
    return list(rows.all())


async def totals_since(conn: AsyncConnection, schema: str, tenant: str, users: list[str], since: datetime) -> list[Any]:
    """Per username with sessions started at or after `since`: how many, and their bytes in and out and seconds
    (exact: numeric sums of the 64-bit counters)."""
    rows = await conn.execute(
        text(f"""
            SELECT s.username, count(*), sum(s.input_octets), sum(s.output_octets), sum(s.session_time_seconds)
            FROM "{schema}".sessions s
            WHERE s.tenant_id = :tenant AND s.username = ANY(CAST(:users AS text[])) AND s.start_time >= :since
            GROUP BY s.username
        """),
        {"tenant": tenant, "users": users, "since": since},
    )
    return list(rows.all())
