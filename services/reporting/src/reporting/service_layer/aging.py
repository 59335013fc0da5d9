"""Keeps the aging rollup (aging_balances, aging_changes) equal to the sum of every invoice's contribution.

Whenever an invoice's balance or grouping changes, its contribution is computed before and after from its
own row and movements (a handful of rows), and the difference is added to the rollup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import NamedTuple

from sqlalchemy import Table, and_, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.adapters.tables import ReadModel
from reporting.domain.aging import contribution


class AgingKey(NamedTuple):
    partner_key: str
    country_key: str
    currency: str
    due_date: date


Contribution = dict[tuple[AgingKey, date], tuple[int, int]]  # (key, day) -> (balance change, count change)


async def invoice_contribution(session: AsyncSession, rm: ReadModel, tenant: str, invoice_id: str) -> Contribution:
    i, m = rm.invoices, rm.invoice_movements
    row = (
        await session.execute(
            select(i.c.partner_id, i.c.billing_country, i.c.currency, i.c.due_date).where(
                i.c.tenant_id == tenant, i.c.invoice_id == invoice_id
            )
        )
    ).first()
    if row is None:
        return {}
    key = AgingKey(row.partner_id or "", row.billing_country or "", row.currency, row.due_date)
    moves = await session.execute(
        select(m.c.effective_at, m.c.delta_minor).where(m.c.tenant_id == tenant, m.c.invoice_id == invoice_id)
    )
    return {(key, day): change for day, change in contribution((r.effective_at, r.delta_minor) for r in moves).items()}


@asynccontextmanager
async def aging_follows(session: AsyncSession, rm: ReadModel, tenant: str, invoice_id: str) -> AsyncIterator[None]:
    """Wrap a change of one invoice: the rollup follows it."""
    before = await invoice_contribution(session, rm, tenant, invoice_id)
    yield
    after = await invoice_contribution(session, rm, tenant, invoice_id)
    diff: Contribution = {}
    for sign, contrib in ((-1, before), (1, after)):
        for k, (balance, count) in contrib.items():
            b, c = diff.get(k, (0, 0))
            diff[k] = (b + sign * balance, c + sign * count)
    totals: dict[AgingKey, tuple[int, int]] = {}
    for (key, day), (balance, count) in sorted(diff.items()):  # a fixed order: fewer lock waits between consumers
        if (balance, count) == (0, 0):
            continue
        await _add(session, rm.aging_changes, tenant, key, balance, count, day)
        b, c = totals.get(key, (0, 0))
        totals[key] = (b + balance, c + count)
    for key, (balance, count) in sorted(totals.items()):
        if (balance, count) != (0, 0):
            await _add(session, rm.aging_balances, tenant, key, balance, count)


async def _add(
    session: AsyncSession, table: Table, tenant: str, key: AgingKey, balance: int, count: int, day: date | None = None
) -> None:
    where = {"tenant_id": tenant, **key._asdict()} | ({"effective_date": day} if day is not None else {})
    stmt = insert(table).values(**where, invoice_count=count, balance_minor=balance)
    left = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=list(where),
                set_={
                    "invoice_count": table.c.invoice_count + stmt.excluded.invoice_count,
                    "balance_minor": table.c.balance_minor + stmt.excluded.balance_minor,
                },
            ).returning(table.c.invoice_count, table.c.balance_minor)
        )
    ).one()
    if tuple(left) == (0, 0):
        await session.execute(delete(table).where(and_(*(table.c[k] == v for k, v in where.items()))))
