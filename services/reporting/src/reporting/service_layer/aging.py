"""Keeps the aging rollup (aging_balances, aging_changes) equal to the sum of every invoice's contribution.

Whenever invoices' balances or grouping change, their contributions are computed before and after from their
own rows and movements (a handful of rows each), and the difference is added to the rollup: one statement
per table for the whole batch.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.adapters.tables import ReadModel
from reporting.domain.aging import contribution


class AgingKey(NamedTuple):
    partner_key: str
    country_key: str
    currency: str
    due_date: date


Contribution = dict[tuple[AgingKey, date], tuple[int, int]]  # (key, day) -> (balance change, count change)


InvoiceKey = tuple[str, str]  # (tenant, invoice id)


async def contributions(
    session: AsyncSession, rm: ReadModel, invoices: Sequence[InvoiceKey]
) -> dict[InvoiceKey, Contribution]:
    """Each invoice's contribution to the rollup, from its row and movements (two statements for all)."""
    if not invoices:
        return {}
    keys = {"tenants": [t for t, _ in invoices], "ids": [i for _, i in invoices]}
    wanted = "unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, invoice_id)"
    rows = await session.execute(
        text(
            f"""
            SELECT i.tenant_id, i.invoice_id, i.partner_id, i.billing_country, i.currency, i.due_date
            FROM {wanted} JOIN "{rm.schema}".invoices i USING (tenant_id, invoice_id)
            """
        ),
        keys,
    )
    grouping = {
        (r.tenant_id, r.invoice_id): AgingKey(r.partner_id or "", r.billing_country or "", r.currency, r.due_date)
        for r in rows
    }
    moves: dict[InvoiceKey, list[tuple[datetime, int]]] = {}
    for r in await session.execute(
        text(
            f"""
            SELECT m.tenant_id, m.invoice_id, m.effective_at, m.delta_minor
            FROM {wanted} JOIN "{rm.schema}".invoice_movements m USING (tenant_id, invoice_id)
            """
        ),
        keys,
    ):
        moves.setdefault((r.tenant_id, r.invoice_id), []).append((r.effective_at, r.delta_minor))
    return {
        invoice: {(key, day): change for day, change in contribution(moves.get(invoice, ())).items()}
        for invoice, key in grouping.items()
    }


async def invoice_contribution(session: AsyncSession, rm: ReadModel, tenant: str, invoice_id: str) -> Contribution:
    return (await contributions(session, rm, [(tenant, invoice_id)])).get((tenant, invoice_id), {})


@asynccontextmanager
async def aging_follows(session: AsyncSession, rm: ReadModel, tenant: str, invoice_id: str) -> AsyncIterator[None]:
    """Wrap a change of one invoice: the rollup follows it."""
    async with aging_follows_all(session, rm, [(tenant, invoice_id)]):
        yield


@asynccontextmanager
async def aging_follows_all(
    session: AsyncSession, rm: ReadModel, invoices: Sequence[InvoiceKey]
) -> AsyncIterator[None]:
    """Wrap a change of many invoices: their contributions before and after, and the difference added to the
    rollup with one upsert per table."""
    before = await contributions(session, rm, invoices)
    yield
    after = await contributions(session, rm, invoices)
    changes: dict[tuple[str, AgingKey, date], list[int]] = {}
    for sign, side in ((-1, before), (1, after)):
        for (tenant, _), contrib in side.items():
            for (key, day), (balance, count) in contrib.items():
                change = changes.setdefault((tenant, key, day), [0, 0])
                change[0] += sign * balance
                change[1] += sign * count
    totals: dict[tuple[str, AgingKey], list[int]] = {}
    for (tenant, key, _), (balance, count) in changes.items():
        total = totals.setdefault((tenant, key), [0, 0])
        total[0] += balance
        total[1] += count
    await _add(session, rm, "aging_changes", {(t, k, d): v for (t, k, d), v in changes.items()})
    await _add(session, rm, "aging_balances", {(t, k, None): v for (t, k), v in totals.items()})


async def _add(
    session: AsyncSession, rm: ReadModel, table: str, changes: dict[tuple[str, AgingKey, date | None], list[int]]
) -> None:
    """Add (balance, count) changes to rollup rows (in one fixed order: fewer lock waits between consumers);
    rows left at zero go."""
    moved = sorted((k, v) for k, v in changes.items() if v != [0, 0])
    if not moved:
        return
    by_day = table == "aging_changes"
    columns = ["tenant_id", *(["effective_date"] if by_day else []), *AgingKey._fields]
    params: dict[str, list[Any]] = {
        "tenant_id": [t for (t, _, _), _ in moved],
        "partner_key": [k.partner_key for (_, k, _), _ in moved],
        "country_key": [k.country_key for (_, k, _), _ in moved],
        "currency": [k.currency for (_, k, _), _ in moved],
        "due_date": [k.due_date for (_, k, _), _ in moved],
        "balance": [v[0] for _, v in moved],
        "count": [v[1] for _, v in moved],
    }
    if by_day:
        params["effective_date"] = [d for (_, _, d), _ in moved]
    types = {"effective_date": "date", "due_date": "date"}
    arrays = ", ".join(f"CAST(:{c} AS {types.get(c, 'text')}[])" for c in columns)
    key = ", ".join(columns)
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".{table} AS r ({key}, balance_minor, invoice_count)
            SELECT * FROM unnest({arrays}, CAST(:balance AS bigint[]), CAST(:count AS bigint[]))
            ON CONFLICT ({key}) DO UPDATE SET
                balance_minor = r.balance_minor + EXCLUDED.balance_minor,
                invoice_count = r.invoice_count + EXCLUDED.invoice_count
            """
        ),
        params,
    )
    await session.execute(
        text(
            f"""
            DELETE FROM "{rm.schema}".{table} r USING unnest({arrays}) AS k({key})
            WHERE {" AND ".join(f"r.{c} = k.{c}" for c in columns)} AND r.balance_minor = 0 AND r.invoice_count = 0
            """
        ),
        {c: params[c] for c in columns},
    )
