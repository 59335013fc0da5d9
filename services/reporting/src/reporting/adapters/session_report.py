"""The sessions/history report — its summary and one page — read in one statement, so in one round trip.

A session is in the period when its latest record (`time`) is within [start, end]. One statement sees one
snapshot by itself, so it needs no transaction around it (no BEGIN and COMMIT round trips either).

- Tenant-wide, the summary adds up whole days from `session_days`, whole hours around them from
  `session_hours`, and reads from `sessions` only the partial hours at both ends, through the covering
  (tenant, time, session_key) index; the page walks that same index backwards and stops after one page.
- For one username (given, or a subscriber's), summary and page walk the covering
  (tenant, username, time, session_key) index: the summary reads the index alone, the page one page of rows.

`start_time <= end` is implied by `time <= end` and lets PostgreSQL skip the monthly partitions that start
later. Rows without a session (an empty page) still carry the summary: the page is left-joined to it.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

COLUMNS = (
    "time",
    "username",
    "acct_session_id",
    "session_key",
    "nas_id",
    "nas_ip_address",
    "framed_ip_address",
    "framed_ipv6_prefix",
    "delegated_ipv6_prefix",
    "calling_station_id",
    "start_time",
    "stop_time",
    "stop_source",
    "session_time_seconds",
    "input_octets",
    "output_octets",
    "terminate_cause",
)
_SESSION_COLUMNS = ", ".join(f"s.{c}" for c in COLUMNS)
_SUMS = "count(*), sum(input_octets), sum(output_octets), sum(session_time_seconds)"
_ROLLUP_SUMS = "sum(sessions), sum(input_octets), sum(output_octets), sum(session_time_seconds)"
_TOTALS = (
    "coalesce(sum(n), 0)::bigint AS n_sessions, coalesce(sum(i), 0)::bigint AS n_in, "
    "coalesce(sum(o), 0)::bigint AS n_out, coalesce(sum(t), 0)::bigint AS n_seconds"
)


def _owner(schema: str, username: str) -> str:
    """The subscriber shown for a username: the latest created one, if the username was reused."""
    return f"""(SELECT sub.subscriber_id FROM "{schema}".subscribers sub
                WHERE sub.tenant_id = $1 AND sub.username = {username}
                ORDER BY sub.created_at DESC NULLS LAST, sub.subscriber_id LIMIT 1)"""


def _combined(totals: str, page: str) -> str:
    return f"""
        WITH totals AS ({totals}), page AS ({page})
        SELECT totals.*, page.* FROM totals LEFT JOIN page ON true
        ORDER BY page.time DESC, page.session_key DESC"""


def _tenant_wide_sql(schema: str) -> str:
    # $1 tenant, $2 start, $3 end, $4 limit, $5 offset, $6 h0, $7 h1, $8 d0, $9 d1, $10 day0, $11 day1:
    # [start, h0) sessions | [h0, d0) hours | [day0, day1) days | [d1, h1) hours | [h1, end] sessions
    totals = f"""
        SELECT {_TOTALS} FROM (
            SELECT {_ROLLUP_SUMS} FROM "{schema}".session_days WHERE tenant_id = $1 AND day >= $10 AND day < $11
            UNION ALL
            SELECT {_ROLLUP_SUMS} FROM "{schema}".session_hours
            WHERE tenant_id = $1 AND ((hour >= $6 AND hour < $8) OR (hour >= $9 AND hour < $7))
            UNION ALL
            SELECT {_SUMS} FROM "{schema}".sessions
            WHERE tenant_id = $1 AND time >= $2 AND time < $6 AND start_time < $6
            UNION ALL
            SELECT {_SUMS} FROM "{schema}".sessions
            WHERE tenant_id = $1 AND time >= $7 AND time <= $3 AND start_time <= $3
        ) parts (n, i, o, t)"""
    page = f"""
        SELECT {_SESSION_COLUMNS}, {_owner(schema, "s.username")} AS subscriber_id
        FROM "{schema}".sessions s
        WHERE s.tenant_id = $1 AND s.time >= $2 AND s.time <= $3 AND s.start_time <= $3
        ORDER BY s.time DESC, s.session_key DESC LIMIT $4 OFFSET $5"""
    return _combined(totals, page)


def _one_username_sql(schema: str, username: str) -> str:
    # $1 tenant, $2 start, $3 end, $4 limit, $5 offset, then what `username` refers to
    in_period = f"tenant_id = $1 AND username = {username} AND time >= $2 AND time <= $3 AND start_time <= $3"
    totals = f'SELECT {_TOTALS} FROM (SELECT {_SUMS} FROM "{schema}".sessions WHERE {in_period}) parts (n, i, o, t)'
    page = f"""
        SELECT {_SESSION_COLUMNS}, {_owner(schema, username)} AS subscriber_id
        FROM "{schema}".sessions s WHERE {in_period}
        ORDER BY s.time DESC, s.session_key DESC LIMIT $4 OFFSET $5"""
    return _combined(totals, page)


def _subscribers_username(schema: str, *, also_username: bool) -> str:
    """The username of subscriber $6 (and only if it is $7, when both are given): null when there is none."""
    same = " AND username = $7" if also_username else ""
    return f'(SELECT username FROM "{schema}".subscribers WHERE tenant_id = $1 AND subscriber_id = $6{same})'


@dataclass(frozen=True)
class SessionTotals:
    sessions: int
    input_octets: int
    output_octets: int
    session_time_seconds: int


@dataclass(frozen=True)
class SessionReport:
    totals: SessionTotals
    rows: list[Any]  # asyncpg Records: COLUMNS and subscriber_id


def _ceil_hour(moment: datetime) -> datetime:
    floor = moment.replace(minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + timedelta(hours=1)


def _rollup_bounds(start: datetime, end: datetime) -> list[Any]:
    """h0, h1, d0, d1, day0, day1 of the tenant-wide query: the whole hours and whole days inside [start, end]."""
    first_hour, last_hour = _ceil_hour(start), end.replace(minute=0, second=0, microsecond=0)
    if first_hour >= last_hour:
        # Not one whole hour: everything is read from the sessions, [start, end) and [end, end].
        return [end, end, end, end, end.date(), end.date()]
    first_day = first_hour if first_hour.hour == 0 else first_hour.replace(hour=0) + timedelta(days=1)
    last_day = last_hour.replace(hour=0)
    if first_day >= last_day:
        first_day = last_day = last_hour
    return [first_hour, last_hour, first_day, last_day, first_day.date(), last_day.date()]


async def session_report(
    driver: Any,
    schema: str,
    tenant: str,
    *,
    subscriber_id: str | None,
    username: str | None,
    start: datetime,
    end: datetime,
    limit: int,
    offset: int,
) -> SessionReport:
    """The summary of every session in the period and one page of them, newest record first.

    `driver` is an asyncpg connection (its statement cache keeps each of the four statements prepared).
    """
    args: list[Any] = [tenant, start, end, limit, offset]
    if subscriber_id is not None:
        sql = _one_username_sql(schema, _subscribers_username(schema, also_username=username is not None))
        args += [subscriber_id] + ([username] if username is not None else [])
    elif username is not None:
        sql = _one_username_sql(schema, "$6")
        args.append(username)
    else:
        sql = _tenant_wide_sql(schema)
        args += _rollup_bounds(start, end)
    rows = await driver.fetch(sql, *args)
    first = rows[0]
    totals = SessionTotals(first["n_sessions"], first["n_in"], first["n_out"], first["n_seconds"])
    return SessionReport(totals, [r for r in rows if r["session_key"] is not None])
