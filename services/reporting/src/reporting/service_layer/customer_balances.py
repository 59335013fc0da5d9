"""Keeps `customer_balances` equal to the sums of its customers' invoices (domain/customer_balances.py).

Every change of invoices' balances (InvoiceIssued and the balance events, one at a time or a batch at a time) is
wrapped by `customer_balances_follow`: the invoices' contributions are read before and after from their own
rows (one statement each), and the net change is added with one upsert; rows that come to zero go. All in the
transaction that changes the invoices, whose rows it has locked, so the sums never lag behind them.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.money import minor_unit_exponent
from reporting.adapters.tables import ReadModel
from reporting.domain.customer_balances import BalanceKey, Owed, net_changes, owed

InvoiceKey = tuple[str, str]  # (tenant, invoice id)


async def contributions(
    session: AsyncSession, rm: ReadModel, invoices: Sequence[InvoiceKey]
) -> list[tuple[BalanceKey, Owed]]:
    """Each existing invoice's contribution to its customer's sums (invoices owing nothing are left out)."""
    if not invoices:
        return []
    rows = await session.execute(
        text(
            f"""
            SELECT i.tenant_id, i.customer_id, i.currency, i.balance_minor, i.overdue_at
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, invoice_id)
            JOIN "{rm.schema}".invoices i USING (tenant_id, invoice_id)
            WHERE i.balance_minor > 0
            """
        ),
        {"tenants": [t for t, _ in invoices], "ids": [i for _, i in invoices]},
    )
    return [(BalanceKey(r[0], r[1], r[2]), owed(r[3], r[4])) for r in rows]


@asynccontextmanager
async def customer_balances_follow(
    session: AsyncSession, rm: ReadModel, invoices: Sequence[InvoiceKey]
) -> AsyncIterator[None]:
    """Wrap a change of `invoices`: their customers' sums follow it."""
    before = await contributions(session, rm, invoices)
    yield
    await add(session, rm, net_changes(before, await contributions(session, rm, invoices)))


async def add(session: AsyncSession, rm: ReadModel, changes: dict[BalanceKey, Owed]) -> None:
    """Add net changes to the sums (in key order: fewer lock waits between consumers); rows left at zero go."""
    if not changes:
        return
    keys = list(changes)
    params = {
        "t": [k.tenant_id for k in keys],
        "c": [k.customer_id for k in keys],
        "cur": [k.currency for k in keys],
        "e": [minor_unit_exponent(k.currency) for k in keys],
        "o": [changes[k].open_invoices for k in keys],
        "d": [changes[k].overdue_invoices for k in keys],
        "b": [changes[k].balance_minor for k in keys],
    }
    table = f'"{rm.schema}".customer_balances'
    await session.execute(
        text(
            f"""
            INSERT INTO {table} AS r
                (tenant_id, customer_id, currency, currency_exponent, open_invoices, overdue_invoices, balance_minor)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:c AS text[]), CAST(:cur AS text[]),
                CAST(:e AS smallint[]), CAST(:o AS bigint[]), CAST(:d AS bigint[]), CAST(:b AS bigint[]))
            ON CONFLICT (tenant_id, customer_id, currency) DO UPDATE SET
                open_invoices = r.open_invoices + EXCLUDED.open_invoices,
                overdue_invoices = r.overdue_invoices + EXCLUDED.overdue_invoices,
                balance_minor = r.balance_minor + EXCLUDED.balance_minor
            """
        ),
        params,
    )
    if all(change.open_invoices >= 0 for change in changes.values()):
        return  # no row can have come to zero
    await session.execute(
        text(
            f"""
            DELETE FROM {table} r
            USING unnest(CAST(:t AS text[]), CAST(:c AS text[]), CAST(:cur AS text[])) AS k(t, c, cur)
            WHERE r.tenant_id = k.t AND r.customer_id = k.c AND r.currency = k.cur AND r.open_invoices = 0
            """
        ),
        {"t": params["t"], "c": params["c"], "cur": params["cur"]},
    )
