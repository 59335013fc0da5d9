"""Queries of the concurrency read model; every one filtered by tenant."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.analytics.domain.concurrency import HourLevel, bucket_start

# The level before `:at` (an hour's start) per NAS: whole months, then days, then hours before it.
_LEVEL_BEFORE = """
    SELECT nas_id, sum(net)::bigint
    FROM "{schema}".concurrency_buckets
    WHERE tenant_id = :tenant {nas_filter} AND (
        (grain = 'month' AND bucket_start < :month)
        OR (grain = 'day' AND bucket_start >= :month AND bucket_start < :day)
        OR (grain = 'hour' AND bucket_start >= :day AND bucket_start < :hour))
    GROUP BY nas_id
"""


async def levels_before(
    conn: AsyncConnection, schema: str, tenant: str, hour: datetime, nas_id: str | None
) -> dict[str, int]:
    """The number of sessions online just before `hour` (an hour's start), per NAS key ('': the tenant)."""
    nas_filter = "" if nas_id is None else "AND nas_id = :nas"
    found = await conn.execute(
        text(_LEVEL_BEFORE.format(schema=schema, nas_filter=nas_filter)),
        {"tenant": tenant, "nas": nas_id, "month": bucket_start(hour, "month"), "day": bucket_start(hour, "day"),
         "hour": hour},
    )  # fmt: skip
    return {nas: int(level) for nas, level in found.all()}


async def levels_at(driver: Any, schema: str, tenant: str, moment: datetime) -> dict[str, int]:
    """The number of sessions online at `moment` (changes at that instant included), per NAS key, in one
    statement on an asyncpg connection: each counter row (service_layer/online.py) plus the changes between its
    `as_of` and `moment` (minus those between `moment` and `as_of` when it is ahead)."""
    rows = await driver.fetch(
        f"""
        SELECT l.nas_id, l.level + coalesce((
            SELECT sum(CASE WHEN c.at > l.as_of THEN c.change ELSE -c.change END)
            FROM "{schema}".concurrency_changes c
            WHERE c.tenant_id = l.tenant_id AND c.nas_id = l.nas_id
              AND c.at > least(l.as_of, $2) AND c.at <= greatest(l.as_of, $2)), 0)::bigint
        FROM "{schema}".online_levels l WHERE l.tenant_id = $1
        """,
        tenant, moment,
    )  # fmt: skip
    return {nas: int(level) for nas, level in rows}


async def hours_kept(
    conn: AsyncConnection, schema: str, tenant: str, nas_key: str, first: datetime, end: datetime
) -> dict[datetime, HourLevel]:
    """The hours in [first, end) that have changes, with their summaries."""
    found = await conn.execute(
        text(
            f"""
            SELECT bucket_start, net, peak, peak_at FROM "{schema}".concurrency_buckets
            WHERE tenant_id = :tenant AND grain = 'hour' AND nas_id = :nas
              AND bucket_start >= :first AND bucket_start < :end
            """
        ),
        {"tenant": tenant, "nas": nas_key, "first": first, "end": end},
    )
    return {hour: HourLevel(net, peak, at) for hour, net, peak, at in found.all()}


async def nas_known(conn: AsyncConnection, schema: str, tenant: str, nas_id: str) -> bool:
    found = await conn.scalar(
        text(
            f"""
            SELECT EXISTS (SELECT 1 FROM "{schema}".concurrency_buckets
                           WHERE tenant_id = :tenant AND grain = 'month' AND nas_id = :nas)
                OR EXISTS (SELECT 1 FROM "{schema}".concurrency_changes WHERE tenant_id = :tenant AND nas_id = :nas)
            """
        ),
        {"tenant": tenant, "nas": nas_id},
    )
    return bool(found)
