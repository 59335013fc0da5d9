"""Report queries over the read models. Every one is filtered by tenant_id; amounts stay in minor units."""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.domain.aging import BUCKETS, due_date_range

# ---------------------------------------------------------------- aging


async def partner_names(conn: AsyncConnection, schema: str, tenant: str) -> dict[str, str]:
    """The tenant's partner names by partner id (from the partner events; a partner never announced has none)."""
    rows = await conn.execute(
        text(f'SELECT partner_id, name FROM "{schema}".partners WHERE tenant_id = :tenant'), {"tenant": tenant}
    )
    return {r.partner_id: r.name for r in rows}


AgingGroup = Literal["partner_id", "billing_country"]


@dataclass(frozen=True)
class AgingRow:
    group: str | None
    currency: str
    invoice_count: int
    total_minor: int
    buckets_minor: dict[str, int]


async def aging(conn: AsyncConnection, schema: str, tenant: str, *, as_of: date, group: AgingGroup) -> list[AgingRow]:
    """Open balances as of the end of `as_of` (UTC), by group and currency, in aging buckets.

    Today's sums (aging_balances) minus what changed after `as_of` (aging_changes): exact for any date, and
    nothing to subtract when as_of is today.
    """
    key = "partner_key" if group == "partner_id" else "country_key"
    bucket_sums = []
    params: dict[str, Any] = {"tenant": tenant, "as_of": as_of}
    for n, bucket in enumerate(BUCKETS):
        earliest, latest = due_date_range(bucket, as_of)
        conds = ["true"]
        if earliest is not None:
            conds.append(f"due_date >= :b{n}_from")
            params[f"b{n}_from"] = earliest
        if latest is not None:
            conds.append(f"due_date <= :b{n}_to")
            params[f"b{n}_to"] = latest
        bucket_sums.append(f"coalesce(sum(balance) FILTER (WHERE {' AND '.join(conds)}), 0)::bigint AS b{n}")
    rows = (
        await conn.execute(
            text(
                f"""
                WITH parts AS (
                    SELECT {key} AS grp, currency, due_date, invoice_count AS n, balance_minor AS balance
                    FROM "{schema}".aging_balances WHERE tenant_id = :tenant
                    UNION ALL
                    SELECT {key}, currency, due_date, -invoice_count, -balance_minor
                    FROM "{schema}".aging_changes WHERE tenant_id = :tenant AND effective_date > :as_of
                ), by_due_date AS (
                    SELECT grp, currency, due_date, sum(n) AS n, sum(balance) AS balance
                    FROM parts GROUP BY 1, 2, 3
                )
                SELECT nullif(grp, '') AS grp, currency, sum(n)::bigint AS invoice_count,
                       sum(balance)::bigint AS total, {", ".join(bucket_sums)}
                FROM by_due_date
                GROUP BY grp, currency
                HAVING sum(n) > 0
                ORDER BY nullif(grp, '') NULLS LAST, currency
                """
            ),
            params,
        )
    ).all()
    return [
        AgingRow(
            group=row.grp,
            currency=row.currency,
            invoice_count=int(row.invoice_count),
            total_minor=int(row.total),
            buckets_minor={b.name: int(getattr(row, f"b{n}")) for n, b in enumerate(BUCKETS)},
        )
        for row in rows
    ]


# ---------------------------------------------------------------- services export

EXPORT_COLUMNS = (
    "subscriber_id",
    "username",
    "status",
    "created_at",
    "suspended_at",
    "customer_id",
    "customer_name",
    "plan_id",
    "activated_at",
)


def _statuses(include_suspended: bool) -> list[str]:
    return ["active", "suspended"] if include_suspended else ["active"]


async def count_services(conn: AsyncConnection, schema: str, tenant: str, *, include_suspended: bool) -> int:
    count = await conn.scalar(
        text(f'SELECT count(*) FROM "{schema}".subscribers WHERE tenant_id = :tenant AND status = ANY(:statuses)'),
        {"tenant": tenant, "statuses": _statuses(include_suspended)},
    )
    return int(count or 0)


def _iso(column: str) -> str:
    """A timestamptz as ISO 8601 in UTC with a Z, microseconds only when there are some (as Python writes it)."""
    return (
        f"CASE WHEN date_trunc('second', {column}) = {column} "
        f"""THEN to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') END"""
    )


def _services_select(schema: str, columns: str) -> str:
    return f"""
        SELECT {columns}
        FROM "{schema}".subscribers s
        LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
        WHERE s.tenant_id = $1 AND s.status = ANY($2::text[])
        ORDER BY s.subscriber_id"""


_TEXT_COLUMNS = {
    "subscriber_id": "s.subscriber_id",
    "username": "s.username",
    "status": "s.status",
    "created_at": _iso("s.created_at"),
    "suspended_at": _iso("s.suspended_at"),
    "customer_id": "s.customer_id",
    "customer_name": "c.name",
    "plan_id": "s.plan_id",
    "activated_at": _iso("s.activated_at"),
}


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under SQLAlchemy's, for COPY and plain cursors, inside the snapshot's
    transaction (which SQLAlchemy opens on the first statement)."""
    await conn.exec_driver_sql("SELECT 1")
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def services_csv_sql(schema: str) -> str:
    """The statement whose rows the CSV export is ($1 tenant, $2 statuses): for COPY, here and in bench/reporting."""
    return _services_select(schema, ", ".join(f"{sql} AS {name}" for name, sql in _TEXT_COLUMNS.items()))


async def services_csv(
    conn: AsyncConnection, schema: str, tenant: str, *, include_suspended: bool
) -> AsyncIterator[bytes]:
    """The export as CSV, written by PostgreSQL (COPY) and handed on chunk by chunk. A small queue between
    COPY and the response holds COPY back while the client is slower: memory stays flat."""
    driver = await _driver(conn)
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)

    async def hand_on(data: bytes | bytearray | memoryview) -> None:
        await queue.put(bytes(data))

    async def copy() -> None:
        try:
            await driver.copy_from_query(
                services_csv_sql(schema), tenant, _statuses(include_suspended),
                output=hand_on, format="csv", header=True,
            )  # fmt: skip
        finally:
            await queue.put(None)

    task = asyncio.create_task(copy())
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # raises what COPY raised
    finally:
        task.cancel()


async def services_json(
    conn: AsyncConnection, schema: str, tenant: str, *, include_suspended: bool, chunk_rows: int
) -> AsyncIterator[list[str]]:
    """The export as JSON objects (one text per row, built by PostgreSQL), in chunks from a cursor."""
    driver = await _driver(conn)
    fields = ", ".join(f"'{name}', {sql}" for name, sql in _TEXT_COLUMNS.items())
    query = _services_select(schema, f"json_build_object({fields})::text AS row")
    chunk: list[str] = []
    async for record in driver.cursor(query, tenant, _statuses(include_suspended), prefetch=chunk_rows):
        chunk.append(record[0])
        if len(chunk) == chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def services(
    conn: AsyncConnection, schema: str, tenant: str, *, include_suspended: bool, chunk_rows: int
) -> AsyncIterator[Sequence[Row[Any]]]:
    """Active (and suspended) subscribers in subscriber_id order, typed, in chunks from a server-side cursor."""
    result = await conn.stream(
        text(
            f"""
            SELECT s.subscriber_id, s.username, s.status, s.created_at, s.suspended_at, s.customer_id,
                   c.name AS customer_name, s.plan_id, s.activated_at
            FROM "{schema}".subscribers s
            LEFT JOIN "{schema}".customers c ON c.tenant_id = s.tenant_id AND c.customer_id = s.customer_id
            WHERE s.tenant_id = :tenant AND s.status = ANY(:statuses)
            ORDER BY s.subscriber_id
            """
        ).execution_options(yield_per=chunk_rows),
        {"tenant": tenant, "statuses": _statuses(include_suspended)},
    )
    async for chunk in result.partitions(chunk_rows):
        yield chunk


# ---------------------------------------------------------------- SLA breaches


@dataclass(frozen=True)
class BreachPage:
    total: int
    resolved: int
    credits_by_currency: list[tuple[str, int]]
    rows: Sequence[Row[Any]]


async def sla_breaches(
    conn: AsyncConnection,
    schema: str,
    tenant: str,
    *,
    resolved: bool | None,
    min_credit: Decimal,
    limit: int,
    offset: int,
) -> BreachPage:
    where = ["b.tenant_id = :tenant", "b.detected_at IS NOT NULL"]
    params: dict[str, Any] = {"tenant": tenant, "limit": limit, "offset": offset}
    if min_credit > 0:
        # The issued credit, in major units of its own currency, compared exactly: as integer thresholds in
        # minor units for each exponent ISO 4217 uses.
        where.append(
            "b.credit_issued_minor >= CASE coalesce(b.currency_exponent, 2) WHEN 0 THEN CAST(:min0 AS bigint) "
            "WHEN 3 THEN CAST(:min3 AS bigint) WHEN 4 THEN CAST(:min4 AS bigint) ELSE CAST(:min2 AS bigint) END"
        )
        params |= {f"min{e}": math.ceil(min_credit.scaleb(e)) for e in (0, 2, 3, 4)}
    if resolved is not None:
        where.append("b.resolved_at IS NOT NULL" if resolved else "b.resolved_at IS NULL")
    cond = " AND ".join(where)
    if min_credit > 0:
        summary = f"""
            SELECT b.currency, count(*) AS total, count(*) FILTER (WHERE b.resolved_at IS NOT NULL) AS resolved,
                   sum(b.credit_issued_minor) AS credited
            FROM "{schema}".sla_breaches b WHERE {cond} GROUP BY b.currency ORDER BY b.currency"""
    else:  # every breach (resolved or not): the few rows of the totals kept by the projection
        only = "" if resolved is None else ("AND resolved" if resolved else "AND NOT resolved")
        summary = f"""
            SELECT currency, sum(breaches) AS total, coalesce(sum(breaches) FILTER (WHERE resolved), 0) AS resolved,
                   sum(credit_issued_minor) AS credited
            FROM "{schema}".sla_totals WHERE tenant_id = :tenant {only} GROUP BY currency ORDER BY currency"""
    by_currency = (await conn.execute(text(summary), params)).all()
    rows = (
        await conn.execute(
            text(
                f"""
                SELECT b.*, c.name AS customer_name
                FROM "{schema}".sla_breaches b
                LEFT JOIN "{schema}".customers c ON c.tenant_id = b.tenant_id AND c.customer_id = b.customer_id
                WHERE {cond}
                ORDER BY b.detected_at DESC, b.breach_id
                LIMIT :limit OFFSET :offset
                """
            ),
            params,
        )
    ).all()
    return BreachPage(
        total=sum(int(r.total) for r in by_currency),
        resolved=sum(int(r.resolved) for r in by_currency),
        credits_by_currency=[(r.currency, int(r.credited)) for r in by_currency if r.credited],
        rows=rows,
    )
