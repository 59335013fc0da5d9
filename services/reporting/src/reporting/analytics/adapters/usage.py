"""Queries of usage analytics; every one filtered by tenant."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from datetime import date, datetime, timedelta
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


_METRIC = {"bytes": "input_octets + output_octets", "duration": "session_time_seconds", "sessions": "sessions"}
FIRST_DEPTH = 200  # rows read per month list in the first round (doubled each further round)


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


async def top(
    conn: AsyncConnection, schema: str, tenant: str, by: TopBy, first: date, last: date, limit: int
) -> list[Any]:
    """The subscribers (usernames) with the most `by` over the UTC days first..last, with plan and customer:
    exactly what summing `usage_days` over the range for every subscriber and sorting (`by` descending, then
    username) gives, without reading every subscriber.

    A threshold algorithm (Fagin's) over the monthly totals: the months the range touches are read as sorted
    lists (`usage_months`, one index per ranking), a deeper slice each round; every subscriber seen gets its
    exact total over the range from `usage_days`. A subscriber not seen yet has at most, in each month, the
    last value read there, so at most their sum over the months (the threshold; the month totals bound the
    range's part of them, counters being never negative). Once `limit` exact totals are above the threshold,
    nobody unseen can enter. Skewed usage ends in a round or two; if the lists run dry or the threshold reaches
    zero first (ties at zero, ordered by name), the plain sum over `usage_days` answers."""
    metric = _METRIC[by]
    months = _months(first, last)
    totals: dict[str, tuple[int, int, int, int]] = {}
    seen: set[str] = set()
    depth, size = 0, max(FIRST_DEPTH, 4 * limit)
    while True:
        found = await conn.execute(
            text(
                f"""
                SELECT m.month, u.username, u.v
                FROM unnest(CAST(:months AS date[])) AS m(month)
                CROSS JOIN LATERAL (
                    SELECT username, {metric} AS v FROM "{schema}".usage_months
                    WHERE tenant_id = :tenant AND month = m.month
                    ORDER BY {metric} DESC, username OFFSET :depth LIMIT :size) AS u
                """
            ),
            {"months": months, "tenant": tenant, "depth": depth, "size": size},
        )
        heads: dict[date, int] = {}
        counts: dict[date, int] = dict.fromkeys(months, 0)
        new: set[str] = set()
        for month, username, value in found.all():
            counts[month] += 1
            heads[month] = int(value)  # rows come in index order: the last is the lowest read
            if username not in seen:
                new.add(username)
        seen |= new
        totals |= await _totals(conn, schema, tenant, sorted(new), first, last)
        threshold = sum(heads[m] for m in months if counts[m] == size)  # a list read dry bounds nobody unseen
        ranked = sorted(totals.items(), key=lambda kv: (-_value(by, kv[1]), kv[0]))[:limit]
        if all(counts[m] < size for m in months):
            break  # everybody with usage in these months has been seen
        if len(ranked) == limit and _value(by, ranked[-1][1]) > threshold:
            break
        if threshold == 0:
            return await top_by_sum(conn, schema, tenant, by, first, last, limit)
        depth, size = depth + size, size * 2
    return await _with_subscribers(conn, schema, tenant, ranked)


def _value(by: TopBy, figures: tuple[int, int, int, int]) -> int:
    sessions, octets_in, octets_out, seconds = figures
    return octets_in + octets_out if by == "bytes" else seconds if by == "duration" else sessions


async def _totals(
    conn: AsyncConnection, schema: str, tenant: str, usernames: list[str], first: date, last: date
) -> dict[str, tuple[int, int, int, int]]:
    """(sessions, bytes in, bytes out, seconds) over the days first..last of those of `usernames` with usage."""
    if not usernames:
        return {}
    found = await conn.execute(
        text(
            f"""
            SELECT username, sum(sessions)::bigint, sum(input_octets)::bigint, sum(output_octets)::bigint,
                   sum(session_time_seconds)::bigint
            FROM "{schema}".usage_days
            WHERE tenant_id = :tenant AND username = ANY(CAST(:users AS text[])) AND day BETWEEN :first AND :last
            GROUP BY username
            """
        ),
        {"tenant": tenant, "users": usernames, "first": first, "last": last},
    )
    return {u: (int(n), int(i), int(o), int(t)) for u, n, i, o, t in found.all()}


async def _with_subscribers(
    conn: AsyncConnection, schema: str, tenant: str, ranked: list[tuple[str, tuple[int, int, int, int]]]
) -> list[Any]:
    found = await conn.execute(
        text(
            f"""
            SELECT u.username, min(s.subscriber_id) AS subscriber_id, min(s.plan_id) AS plan_id,
                   min(s.customer_id) AS customer_id, min(c.name) AS customer_name
            FROM unnest(CAST(:users AS text[])) AS u(username)
            LEFT JOIN "{schema}".subscribers s ON s.tenant_id = :tenant AND s.username = u.username
            LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
            GROUP BY u.username
            """
        ),
        {"tenant": tenant, "users": [u for u, _ in ranked]},
    )
    who = {r["username"]: r for r in found.mappings().all()}
    return [
        {
            "username": username,
            "sessions": n,
            "input_octets": i,
            "output_octets": o,
            "session_time_seconds": t,
            **{k: who[username][k] for k in ("subscriber_id", "plan_id", "customer_id", "customer_name")},
        }
        for username, (n, i, o, t) in ranked
    ]


async def top_by_sum(
    conn: AsyncConnection, schema: str, tenant: str, by: TopBy, first: date, last: date, limit: int
) -> list[Any]:
    """The same ranking as `top`, by summing `usage_days` over the range for every subscriber."""
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
