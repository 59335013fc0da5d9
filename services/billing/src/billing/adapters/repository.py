"""Queries on customers (our copy), invoices, payments, credit notes and customer credit.

Every query is filtered by tenant_id. Rows travel as SQLAlchemy `Row`s; the use cases read their columns.
"""

# ruff: noqa: S608 - SQL is composed only with our own table names; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters.tables import (
    applications,
    credit_entries,
    credit_notes,
    customer_credits,
    customers,
    document_counters,
    invoice_lines,
    invoices,
    payments,
    subscribers,
)
from billing.domain.account_copies import CustomerCopy, SubscriberCopy
from billing.domain.amounts import Line

# --- our copy of customers and subscribers ---------------------------------------------------------------------


async def upsert_customer(session: AsyncSession, values: dict[str, Any]) -> None:
    """Keep the newest state: an older event (redelivered, reordered) does not overwrite a newer one."""
    stmt = pg_insert(customers).values(**values)
    changes = {k: stmt.excluded[k] for k in values if k not in ("tenant_id", "customer_id")}
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "customer_id"],
            set_=changes,
            where=customers.c.source_updated_at <= stmt.excluded.source_updated_at,
        )
    )


async def get_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> Row[Any] | None:
    stmt = select(customers).where(customers.c.tenant_id == tenant_id, customers.c.customer_id == customer_id)
    return (await session.execute(stmt)).one_or_none()


async def upsert_subscriber(session: AsyncSession, values: dict[str, Any], *, keep_plan: bool) -> None:
    """Insert or update; a status change older than the stored one does not overwrite it."""
    stmt = pg_insert(subscribers).values(**values)
    skip = {"tenant_id", "subscriber_id"} | ({"plan_id"} if keep_plan else set())
    changes = {k: stmt.excluded[k] for k in values if k not in skip}
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "subscriber_id"],
            set_=changes,
            where=subscribers.c.changed_at <= stmt.excluded.changed_at,
        )
    )


async def get_subscriber(session: AsyncSession, tenant_id: str, subscriber_id: str) -> Row[Any] | None:
    stmt = select(subscribers).where(subscribers.c.tenant_id == tenant_id, subscribers.c.subscriber_id == subscriber_id)
    return (await session.execute(stmt)).one_or_none()


# A batch of events at a time (`service_layer/account_batches.py`): one statement per kind of read or write,
# whatever the number of rows; (tenant, id) pairs travel as two arrays.


async def rows_of_pairs(
    session: AsyncSession, table: str, id_column: str, columns: str, keys: Sequence[tuple[str, str]], where: str = ""
) -> list[tuple[Any, ...]]:
    """`columns` (of `table` as `t`) of the rows whose (tenant_id, `id_column`) is one of `keys`, and `where`."""
    if not keys:
        return []
    rows = await session.execute(
        text(
            f"SELECT {columns} FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, id)"
            f" JOIN {table} t ON t.tenant_id = k.tenant_id AND t.{id_column} = k.id{where}"
        ),
        {"tenants": [t for t, _ in keys], "ids": [i for _, i in keys]},
    )
    return [tuple(row) for row in rows.all()]


async def customers_of(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> list[CustomerCopy]:
    """Our copies of these (tenant, customer) pairs (those we have)."""
    columns = "t.tenant_id, t.customer_id, t.name, t.partner_id, t.billing_country, t.timezone, t.source_updated_at"
    return [CustomerCopy(*row) for row in await rows_of_pairs(session, customers.name, "customer_id", columns, keys)]


async def subscribers_of(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> list[SubscriberCopy]:
    """Our copies of these (tenant, subscriber) pairs (those we have)."""
    columns = "t.tenant_id, t.subscriber_id, t.customer_id, t.username, t.status, t.plan_id, t.changed_at"
    rows = await rows_of_pairs(session, subscribers.name, "subscriber_id", columns, keys)
    return [SubscriberCopy(*row) for row in rows]


async def upsert_customers(session: AsyncSession, copies: Sequence[CustomerCopy]) -> None:
    """`upsert_customer` for many customers (one row each) with one statement, under the same guard."""
    if not copies:
        return
    ordered = sorted(copies, key=lambda c: (c.tenant_id, c.customer_id))  # one lock order for every writer
    await session.execute(
        text(
            f"INSERT INTO {customers.name} AS c"
            " (tenant_id, customer_id, name, partner_id, billing_country, timezone, source_updated_at)"
            " SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:names AS text[]),"
            " CAST(:partners AS text[]), CAST(:countries AS text[]), CAST(:zones AS text[]),"
            " CAST(:updated AS timestamptz[]))"
            " ON CONFLICT (tenant_id, customer_id) DO UPDATE SET name = EXCLUDED.name,"
            " partner_id = EXCLUDED.partner_id, billing_country = EXCLUDED.billing_country,"
            " timezone = EXCLUDED.timezone, source_updated_at = EXCLUDED.source_updated_at"
            " WHERE c.source_updated_at <= EXCLUDED.source_updated_at"
        ),
        {
            "tenants": [c.tenant_id for c in ordered], "ids": [c.customer_id for c in ordered],
            "names": [c.name for c in ordered], "partners": [c.partner_id for c in ordered],
            "countries": [c.billing_country for c in ordered], "zones": [c.timezone for c in ordered],
            "updated": [c.source_updated_at for c in ordered],
        },
    )  # fmt: skip


async def upsert_subscribers(session: AsyncSession, copies: Sequence[SubscriberCopy]) -> None:
    """The net states of many subscribers (one row each, plan included) with one statement, under the guard of
    `upsert_subscriber` (a later stored change is kept)."""
    if not copies:
        return
    ordered = sorted(copies, key=lambda c: (c.tenant_id, c.subscriber_id))
    await session.execute(
        text(
            f"INSERT INTO {subscribers.name} AS s"
            " (tenant_id, subscriber_id, customer_id, username, status, plan_id, changed_at)"
            " SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:customers AS text[]),"
            " CAST(:usernames AS text[]), CAST(:statuses AS text[]), CAST(:plans AS text[]),"
            " CAST(:changed AS timestamptz[]))"
            " ON CONFLICT (tenant_id, subscriber_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,"
            " username = EXCLUDED.username, status = EXCLUDED.status, plan_id = EXCLUDED.plan_id,"
            " changed_at = EXCLUDED.changed_at"
            " WHERE s.changed_at <= EXCLUDED.changed_at"
        ),
        {
            "tenants": [c.tenant_id for c in ordered], "ids": [c.subscriber_id for c in ordered],
            "customers": [c.customer_id for c in ordered], "usernames": [c.username for c in ordered],
            "statuses": [c.status for c in ordered], "plans": [c.plan_id for c in ordered],
            "changed": [c.changed_at for c in ordered],
        },
    )  # fmt: skip


# --- document numbers -------------------------------------------------------------------------------------------


async def next_sequence(session: AsyncSession, tenant_id: str, series: str, year: int) -> int:
    """The next number of (tenant, series, year), gapless: the counter row stays locked until the transaction
    ends, so a concurrent issuer waits, and a rollback gives the number back."""
    first = pg_insert(document_counters).values(tenant_id=tenant_id, series=series, year=year, last_value=1)
    stmt = first.on_conflict_do_update(
        index_elements=["tenant_id", "series", "year"],
        set_={"last_value": document_counters.c.last_value + 1},
    ).returning(document_counters.c.last_value)
    return int((await session.execute(stmt)).scalar_one())


# --- invoices ---------------------------------------------------------------------------------------------------


async def insert_invoice(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(invoices).values(**values).returning(*invoices.c))).one()


async def get_invoice(session: AsyncSession, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Row[Any] | None:
    stmt = select(invoices).where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def update_invoice(session: AsyncSession, tenant_id: str, invoice_id: str, **values: Any) -> Row[Any]:
    stmt = (
        update(invoices)
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id == invoice_id)
        .values(**values)
        .returning(*invoices.c)
    )
    return (await session.execute(stmt)).one()


@dataclass(frozen=True)
class InvoiceFilter:
    customer_id: str | None = None
    status: str | None = None
    currency: str | None = None
    subscription_id: str | None = None


async def list_invoices(
    session: AsyncSession, tenant_id: str, where: InvoiceFilter, *, limit: int, offset: int
) -> tuple[Sequence[Row[Any]], int]:
    conditions = [invoices.c.tenant_id == tenant_id]
    for column, value in (
        (invoices.c.customer_id, where.customer_id),
        (invoices.c.status, where.status),
        (invoices.c.currency, where.currency),
        (invoices.c.subscription_id, where.subscription_id),
    ):
        if value is not None:
            conditions.append(column == value)
    total = int((await session.execute(select(func.count()).select_from(invoices).where(*conditions))).scalar_one())
    stmt = select(invoices).where(*conditions).order_by(invoices.c.created_at.desc(), invoices.c.id)
    rows = (await session.execute(stmt.limit(limit).offset(offset))).all()
    return rows, total


async def lines_of(session: AsyncSession, tenant_id: str, invoice_id: str) -> Sequence[Row[Any]]:
    stmt = (
        select(invoice_lines)
        .where(invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_id == invoice_id)
        .order_by(invoice_lines.c.position)
    )
    return (await session.execute(stmt)).all()


async def lines_of_many(session: AsyncSession, tenant_id: str, invoice_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    out: dict[str, list[Row[Any]]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    stmt = (
        select(invoice_lines)
        .where(invoice_lines.c.tenant_id == tenant_id, invoice_lines.c.invoice_id.in_(invoice_ids))
        .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
    )
    for row in (await session.execute(stmt)).all():
        out[row.invoice_id].append(row)
    return out


async def insert_lines(
    session: AsyncSession,
    tenant_id: str,
    invoice_id: str,
    lines: Sequence[Line],
    *,
    first_position: int,
    usage_period_starts: Sequence[Any] | None = None,
) -> None:
    if not lines:
        return
    periods = usage_period_starts or [None] * len(lines)
    await session.execute(
        insert(invoice_lines),
        [
            {
                "tenant_id": tenant_id, "invoice_id": invoice_id, "position": first_position + i, "kind": line.kind,
                "description": line.description, "quantity": line.quantity, "unit_price_minor": line.unit_price_minor,
                "amount_minor": line.amount_minor, "tax_rate_bp": line.tax_rate_bp, "tax_minor": line.tax_minor,
                "usage_period_start": period,
            }
            for i, (line, period) in enumerate(zip(lines, periods, strict=True))
        ],
    )  # fmt: skip


async def open_invoices(
    session: AsyncSession, tenant_id: str, customer_id: str, currency: str, *, limit: int | None = None
) -> Sequence[Row[Any]]:
    """The customer's open invoices in `currency` with a balance, oldest due first, locked for settlement."""
    stmt = (
        select(invoices)
        .where(
            invoices.c.tenant_id == tenant_id,
            invoices.c.customer_id == customer_id,
            invoices.c.currency == currency,
            invoices.c.status == "open",
            invoices.c.balance_minor > 0,
        )
        .order_by(invoices.c.due_date, invoices.c.issue_date, invoices.c.number)
        .with_for_update()
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await session.execute(stmt)).all()


async def insert_application(
    session: AsyncSession, tenant_id: str, invoice_id: str, source: str, source_id: str, amount: int, at: datetime
) -> None:
    await session.execute(
        insert(applications).values(
            tenant_id=tenant_id, invoice_id=invoice_id, source=source, source_id=source_id, amount_minor=amount,
            applied_at=at,
        )
    )  # fmt: skip


async def applications_of(
    session: AsyncSession, tenant_id: str, *, invoice_id: str | None = None, source_id: str | None = None
) -> Sequence[Row[Any]]:
    stmt = select(applications).where(applications.c.tenant_id == tenant_id)
    if invoice_id is not None:
        stmt = stmt.where(applications.c.invoice_id == invoice_id)
    if source_id is not None:
        stmt = stmt.where(applications.c.source_id == source_id)
    return (await session.execute(stmt.order_by(applications.c.id))).all()


async def tenants_with_overdue(session: AsyncSession, now: datetime) -> list[str]:
    """Tenants that have invoices whose overdue moment has come and that were not reported yet."""
    stmt = select(invoices.c.tenant_id).distinct().where(*_overdue_conditions(now))
    return list((await session.execute(stmt)).scalars())


async def claim_overdue(session: AsyncSession, tenant_id: str, now: datetime, limit: int) -> Sequence[Row[Any]]:
    """Mark up to `limit` newly overdue invoices as reported and return them.

    Rows another transaction holds are skipped (SKIP LOCKED) and a row reported by a transaction that committed
    meanwhile no longer matches `overdue_notified_at IS NULL` (re-checked after the lock): two schedulers never
    both report one invoice.
    """
    claimed = (
        select(invoices.c.id)
        .where(invoices.c.tenant_id == tenant_id, *_overdue_conditions(now))
        .order_by(invoices.c.overdue_at, invoices.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(invoices)
        .where(invoices.c.tenant_id == tenant_id, invoices.c.id.in_(claimed), invoices.c.overdue_notified_at.is_(None))
        .values(overdue_notified_at=now)
        .returning(*invoices.c)
    )
    return (await session.execute(stmt)).all()


def _overdue_conditions(now: datetime) -> list[Any]:
    return [
        invoices.c.status == "open",
        invoices.c.overdue_notified_at.is_(None),
        invoices.c.balance_minor > 0,
        invoices.c.overdue_at <= now,
    ]


# --- payments ---------------------------------------------------------------------------------------------------


async def insert_payment(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(payments).values(**values).returning(*payments.c))).one()


async def get_payment(session: AsyncSession, tenant_id: str, payment_id: str) -> Row[Any] | None:
    stmt = select(payments).where(payments.c.tenant_id == tenant_id, payments.c.id == payment_id)
    return (await session.execute(stmt)).one_or_none()


async def payment_by_external_id(session: AsyncSession, tenant_id: str, external_id: str) -> Row[Any] | None:
    stmt = select(payments).where(payments.c.tenant_id == tenant_id, payments.c.external_id == external_id)
    return (await session.execute(stmt)).one_or_none()


async def list_payments(
    session: AsyncSession, tenant_id: str, customer_id: str | None, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    stmt = select(payments).where(payments.c.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(payments.c.customer_id == customer_id)
    stmt = stmt.order_by(payments.c.received_at.desc(), payments.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()


# --- credit notes -----------------------------------------------------------------------------------------------


async def insert_credit_note(session: AsyncSession, values: dict[str, Any]) -> Row[Any]:
    return (await session.execute(insert(credit_notes).values(**values).returning(*credit_notes.c))).one()


async def get_credit_note(session: AsyncSession, tenant_id: str, credit_note_id: str) -> Row[Any] | None:
    stmt = select(credit_notes).where(credit_notes.c.tenant_id == tenant_id, credit_notes.c.id == credit_note_id)
    return (await session.execute(stmt)).one_or_none()


async def list_credit_notes(
    session: AsyncSession, tenant_id: str, customer_id: str | None, *, limit: int, offset: int
) -> Sequence[Row[Any]]:
    stmt = select(credit_notes).where(credit_notes.c.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(credit_notes.c.customer_id == customer_id)
    stmt = stmt.order_by(credit_notes.c.issued_at.desc(), credit_notes.c.id).limit(limit).offset(offset)
    return (await session.execute(stmt)).all()


# --- customer credit --------------------------------------------------------------------------------------------


async def credit_balance(
    session: AsyncSession, tenant_id: str, customer_id: str, currency: str, *, lock: bool = False
) -> int:
    stmt = select(customer_credits.c.balance_minor).where(
        customer_credits.c.tenant_id == tenant_id,
        customer_credits.c.customer_id == customer_id,
        customer_credits.c.currency == currency,
    )
    if lock:
        stmt = stmt.with_for_update()
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)


async def change_credit(
    session: AsyncSession,
    tenant_id: str,
    customer_id: str,
    currency: str,
    delta: int,
    *,
    reason: str,
    reference_id: str,
    at: datetime,
) -> int:
    """Add (or with a negative delta, use) customer credit in one currency; returns the new balance."""
    c = customer_credits
    if delta < 0:  # using credit: the row exists (an upsert would check the negative candidate row and fail)
        used = (
            update(c)
            .where(c.c.tenant_id == tenant_id, c.c.customer_id == customer_id, c.c.currency == currency)
            .values(balance_minor=c.c.balance_minor + delta)
            .returning(c.c.balance_minor)
        )
        balance = int((await session.execute(used)).scalar_one())
    else:
        first = pg_insert(c).values(
            tenant_id=tenant_id, customer_id=customer_id, currency=currency, balance_minor=delta
        )
        kept = first.on_conflict_do_update(
            index_elements=["tenant_id", "customer_id", "currency"], set_={"balance_minor": c.c.balance_minor + delta}
        ).returning(c.c.balance_minor)
        balance = int((await session.execute(kept)).scalar_one())
    await session.execute(
        insert(credit_entries).values(
            tenant_id=tenant_id, customer_id=customer_id, currency=currency, amount_minor=delta, reason=reason,
            reference_id=reference_id, created_at=at,
        )
    )  # fmt: skip
    return balance


async def credits_of(session: AsyncSession, tenant_id: str, customer_id: str) -> Sequence[Any]:
    stmt = (
        select(customer_credits.c.currency, customer_credits.c.balance_minor)
        .where(customer_credits.c.tenant_id == tenant_id, customer_credits.c.customer_id == customer_id)
        .order_by(customer_credits.c.currency)
    )
    return (await session.execute(stmt)).all()


async def credit_history(session: AsyncSession, tenant_id: str, customer_id: str) -> Sequence[Row[Any]]:
    stmt = (
        select(credit_entries)
        .where(credit_entries.c.tenant_id == tenant_id, credit_entries.c.customer_id == customer_id)
        .order_by(credit_entries.c.id)
    )
    return (await session.execute(stmt)).all()


async def receivables_of(session: AsyncSession, tenant_id: str, customer_id: str) -> Sequence[Any]:
    """Open balances per currency (sums never cross currencies)."""
    stmt = (
        select(
            invoices.c.currency,
            func.sum(invoices.c.balance_minor).label("balance_minor"),
            func.count().label("invoice_count"),
        )
        .where(
            invoices.c.tenant_id == tenant_id,
            invoices.c.customer_id == customer_id,
            invoices.c.status == "open",
        )
        .group_by(invoices.c.currency)
        .order_by(invoices.c.currency)
    )
    return (await session.execute(stmt)).all()


# --- plans and subscriptions, as listed (a page at a time) -----------------------------------------------------
