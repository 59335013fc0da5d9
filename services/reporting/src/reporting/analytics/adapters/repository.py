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


async def mrr_as_of(conn: AsyncConnection, schema: str, tenant: str, day: date, currency: str | None) -> list[Any]:
    """Per currency: MRR, paying customers and active subscriptions at the end of `day` (the daily rollup's
    changes up to that day, summed)."""
    rows = await conn.execute(
        text(f"""
            SELECT currency, sum(mrr_delta_minor)::bigint, sum(paying_delta)::bigint, sum(active_delta)::bigint
            FROM "{schema}".mrr_days
            WHERE tenant_id = :t AND day <= :day AND (CAST(:c AS text) IS NULL OR currency = :c)
            GROUP BY currency HAVING sum(mrr_delta_minor) <> 0 OR sum(active_delta) <> 0
            ORDER BY currency
        """),
        {"t": tenant, "day": day, "c": currency},
    )
    return list(rows.all())


async def rollup_base(
    conn: AsyncConnection, schema: str, tenant: str, before: date, currency: str | None
) -> dict[str, tuple[int, int]]:
    """(MRR, paying customers) per currency at the start of day `before`."""
    rows = await conn.execute(
        text(f"""SELECT currency, sum(mrr_delta_minor)::bigint, sum(paying_delta)::bigint FROM "{schema}".mrr_days
                 WHERE tenant_id = :t AND day < :before AND (CAST(:c AS text) IS NULL OR currency = :c)
                 GROUP BY currency"""),
        {"t": tenant, "before": before, "c": currency},
    )
    return {c: (int(m), int(p)) for c, m, p in rows}


async def rollup_days(
    conn: AsyncConnection, schema: str, tenant: str, first: date, end: date, currency: str | None
) -> list[tuple[str, date, int, int]]:
    """(currency, day, MRR change, paying change) of the days first..end-1."""
    rows = await conn.execute(
        text(f"""SELECT currency, day, mrr_delta_minor, paying_delta FROM "{schema}".mrr_days
                 WHERE tenant_id = :t AND day >= :first AND day < :end
                   AND (CAST(:c AS text) IS NULL OR currency = :c)"""),
        {"t": tenant, "first": first, "end": end, "c": currency},
    )
    return [(c, d, int(m), int(p)) for c, d, m, p in rows]


async def rollup_movements(
    conn: AsyncConnection, schema: str, tenant: str, interval: str, first: date, end: date, currency: str | None
) -> list[tuple[str, date, str, int, int]]:
    """(currency, period start, movement, amount, customers) of the periods of `interval` starting in first..end-1."""
    rows = await conn.execute(
        text(f"""SELECT currency, period_start, kind, amount_minor, customers FROM "{schema}".mrr_movements
                 WHERE tenant_id = :t AND interval = :i AND period_start >= :first AND period_start < :end
                   AND (CAST(:c AS text) IS NULL OR currency = :c)"""),
        {"t": tenant, "i": interval, "first": first, "end": end, "c": currency},
    )
    return [(c, s, k, int(a), int(n)) for c, s, k, a, n in rows]


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
