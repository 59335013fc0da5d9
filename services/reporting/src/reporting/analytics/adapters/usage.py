"""Queries of usage analytics; every one filtered by tenant."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.analytics.domain.subscriber_usage import HourUsage

TopBy = Literal["bytes", "duration", "sessions"]
_ORDER = {
    "bytes": "sum(u.input_octets + u.output_octets)",
    "duration": "sum(u.session_time_seconds)",
    "sessions": "sum(u.sessions)",
}


async def subscriber(conn: AsyncConnection, schema: str, tenant: str, subscriber_id: str) -> Any:
    """The subscriber with its username, customer and the customer's time zone (None: unknown)."""
    found = await conn.execute(
        text(
            f"""
            SELECT s.subscriber_id, s.username, s.customer_id, coalesce(c.timezone, 'UTC') AS timezone
            FROM "{schema}".subscribers s
            LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
            WHERE s.tenant_id = :tenant AND s.subscriber_id = :id
            """
        ),
        {"tenant": tenant, "id": subscriber_id},
    )
    return found.first()


async def customer(conn: AsyncConnection, schema: str, tenant: str, customer_id: str) -> Any:
    """The customer's time zone and its subscribers' usernames (None: unknown customer)."""
    found = await conn.execute(
        text(
            f"""
            SELECT c.customer_id, c.timezone,
                   coalesce(array_agg(s.username ORDER BY s.username) FILTER (WHERE s.username IS NOT NULL),
                            '{{}}') AS usernames
            FROM "{schema}".customers c
            LEFT JOIN "{schema}".subscribers s ON s.tenant_id = c.tenant_id AND s.customer_id = c.customer_id
            WHERE c.tenant_id = :tenant AND c.customer_id = :id
            GROUP BY c.customer_id, c.timezone
            """
        ),
        {"tenant": tenant, "id": customer_id},
    )
    return found.first()


async def hours_of(
    conn: AsyncConnection, schema: str, tenant: str, usernames: list[str], start: datetime, end: datetime, zone: str
) -> list[HourUsage]:
    """The sessions of `usernames` whose latest record is in [start, end), summed per local day and hour."""
    found = await conn.execute(
        text(
            f"""
            SELECT (time AT TIME ZONE :zone)::date, extract(hour FROM time AT TIME ZONE :zone)::int, count(*),
                   sum(input_octets)::bigint, sum(output_octets)::bigint, sum(session_time_seconds)::bigint
            FROM "{schema}".sessions
            WHERE tenant_id = :tenant AND username = ANY(:users) AND time >= :start AND time < :end
            GROUP BY 1, 2
            """
        ),
        {"tenant": tenant, "users": usernames, "start": start, "end": end, "zone": zone},
    )
    return [HourUsage(*row) for row in found.all()]


async def top(
    conn: AsyncConnection, schema: str, tenant: str, by: TopBy, first: date, last: date, limit: int
) -> list[Any]:
    """The subscribers (usernames) with the most `by` over the UTC days first..last, with plan and customer."""
    found = await conn.execute(
        text(
            f"""
            SELECT u.username, sum(u.sessions)::bigint AS sessions, sum(u.input_octets)::bigint AS input_octets,
                   sum(u.output_octets)::bigint AS output_octets,
                   sum(u.session_time_seconds)::bigint AS session_time_seconds,
                   min(s.subscriber_id) AS subscriber_id, min(s.plan_id) AS plan_id,
                   min(s.customer_id) AS customer_id, min(c.name) AS customer_name
            FROM "{schema}".usage_days u
            LEFT JOIN "{schema}".subscribers s ON s.tenant_id = u.tenant_id AND s.username = u.username
            LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
            WHERE u.tenant_id = :tenant AND u.day BETWEEN :first AND :last
            GROUP BY u.username
            ORDER BY {_ORDER[by]} DESC, u.username
            LIMIT :limit
            """
        ),
        {"tenant": tenant, "first": first, "last": last, "limit": limit},
    )
    return list(found.mappings().all())
