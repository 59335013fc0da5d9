"""Revenue analytics' queries, every one filtered by tenant. `schema` is the read model's (live or twin)."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from reporting.analytics.adapters.tables import fx_rates, settings
from reporting.analytics.domain.revenue import MrrChange


async def mrr_as_of(conn: AsyncConnection, schema: str, tenant: str, at: datetime, currency: str | None) -> list[Any]:
    """Per currency: MRR, paying customers and active subscriptions after every change effective before `at`
    (each customer's last row before `at`, read through the primary key)."""
    rows = await conn.execute(
        text(f"""
            SELECT currency, sum(mrr_minor)::bigint, count(*) FILTER (WHERE mrr_minor > 0),
                   sum(active_subscriptions)::bigint
            FROM (SELECT DISTINCT ON (customer_id, currency) currency, mrr_minor, active_subscriptions
                  FROM "{schema}".customer_mrr_changes
                  WHERE tenant_id = :t AND effective_at < :at AND (CAST(:c AS text) IS NULL OR currency = :c)
                  ORDER BY customer_id, currency, effective_at DESC) last
            GROUP BY currency HAVING sum(mrr_minor) > 0 OR sum(active_subscriptions) > 0
            ORDER BY currency
        """),
        {"t": tenant, "at": at, "c": currency},
    )
    return list(rows.all())


async def customer_changes(
    conn: AsyncConnection, schema: str, tenant: str, before: datetime, currency: str | None
) -> list[MrrChange]:
    """Every customer's MRR changes effective before `before` (the history movements are classified from)."""
    rows = await conn.execute(
        text(f"""
            SELECT customer_id, currency, effective_at, mrr_minor FROM "{schema}".customer_mrr_changes
            WHERE tenant_id = :t AND effective_at < :before AND (CAST(:c AS text) IS NULL OR currency = :c)
        """),
        {"t": tenant, "before": before, "c": currency},
    )
    return [MrrChange(*r) for r in rows]


async def invoiced(conn: AsyncConnection, schema: str, tenant: str, first: date, end: date) -> dict[str, int]:
    """Totals of the invoices issued on days first..end-1, per currency."""
    rows = await conn.execute(
        text(f"""SELECT currency, sum(total_minor)::bigint FROM "{schema}".invoices
                 WHERE tenant_id = :t AND issue_date >= :first AND issue_date < :end GROUP BY currency"""),
        {"t": tenant, "first": first, "end": end},
    )
    return {c: int(v) for c, v in rows}


async def collected(conn: AsyncConnection, schema: str, tenant: str, start: datetime, end: datetime) -> dict[str, int]:
    """Payments applied to invoices in [start, end), per currency (from the invoices' balance movements)."""
    rows = await conn.execute(
        text(f"""SELECT i.currency, -sum(m.delta_minor)::bigint FROM "{schema}".invoice_movements m
                 JOIN "{schema}".invoices i ON i.tenant_id = m.tenant_id AND i.invoice_id = m.invoice_id
                 WHERE m.tenant_id = :t AND m.kind IN ('payment', 'paid')
                   AND m.effective_at >= :start AND m.effective_at < :end
                 GROUP BY i.currency"""),
        {"t": tenant, "start": start, "end": end},
    )
    return {c: int(v) for c, v in rows}


async def receivables(conn: AsyncConnection, schema: str, tenant: str, before: datetime) -> dict[str, int]:
    """What invoices were owed at `before` (every balance movement effective before it), per currency."""
    rows = await conn.execute(
        text(f"""SELECT i.currency, sum(m.delta_minor)::bigint FROM "{schema}".invoice_movements m
                 JOIN "{schema}".invoices i ON i.tenant_id = m.tenant_id AND i.invoice_id = m.invoice_id
                 WHERE m.tenant_id = :t AND m.effective_at < :before GROUP BY i.currency"""),
        {"t": tenant, "before": before},
    )
    return {c: int(v) for c, v in rows}


async def octets(conn: AsyncConnection, schema: str, tenant: str, first: date, end: date) -> int:
    """Bytes in and out of the tenant's sessions on days first..end-1 (the daily rollup)."""
    value = await conn.scalar(
        text(f"""SELECT coalesce(sum(input_octets + output_octets), 0)::bigint FROM "{schema}".session_days
                 WHERE tenant_id = :t AND day >= :first AND day < :end"""),
        {"t": tenant, "first": first, "end": end},
    )
    return int(value or 0)


async def rate_on(conn: AsyncConnection, tenant: str, base: str, quote: str, day: date) -> tuple[Fraction, date] | None:
    """The tenant's latest base->quote rate dated on or before `day`, and its date."""
    f = fx_rates.c
    row = (
        await conn.execute(
            fx_rates.select()
            .with_only_columns(f.rate, f.rate_date)
            .where(f.tenant_id == tenant, f.base_currency == base, f.quote_currency == quote, f.rate_date <= day)
            .order_by(f.rate_date.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (Fraction(row.rate), row.rate_date)


async def put_rate(
    conn: AsyncConnection, tenant: str, base: str, quote: str, day: date, rate: Decimal, now: datetime
) -> None:
    stmt = insert(fx_rates).values(
        tenant_id=tenant, base_currency=base, quote_currency=quote, rate_date=day, rate=rate, updated_at=now
    )
    await conn.execute(stmt.on_conflict_do_update(constraint="pk_fx_rates", set_={"rate": rate, "updated_at": now}))


async def list_rates(conn: AsyncConnection, tenant: str, base: str | None, quote: str | None) -> list[Any]:
    f = fx_rates.c
    query = fx_rates.select().where(f.tenant_id == tenant)
    if base:
        query = query.where(f.base_currency == base)
    if quote:
        query = query.where(f.quote_currency == quote)
    rows = await conn.execute(query.order_by(f.base_currency, f.quote_currency, f.rate_date).limit(10_000))
    return list(rows.all())


async def gross_margin(conn: AsyncConnection, tenant: str) -> Fraction | None:
    value = await conn.scalar(settings.select().with_only_columns(settings.c.gross_margin)
                              .where(settings.c.tenant_id == tenant))  # fmt: skip
    return None if value is None else Fraction(value)


async def put_gross_margin(conn: AsyncConnection, tenant: str, margin: Decimal, now: datetime) -> None:
    stmt = insert(settings).values(tenant_id=tenant, gross_margin=margin, updated_at=now)
    await conn.execute(
        stmt.on_conflict_do_update(constraint="pk_settings", set_={"gross_margin": margin, "updated_at": now})
    )
