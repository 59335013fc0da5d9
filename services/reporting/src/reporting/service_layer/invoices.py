"""Invoices into the read model: one row per invoice with its open balance, and every balance movement.

The balance follows billing's events. Payments and credit notes carry the invoice's balance afterwards when
billing knows it (then we take it as is); otherwise the applied amount is subtracted. Each change is also
kept as a movement dated when it took effect, which is what aging as of a past date reads.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing as ev
from reporting.adapters.tables import ReadModel
from reporting.service_layer.aging import aging_follows, aging_follows_all

log = logging.getLogger(__name__)


async def invoices_issued(
    session: AsyncSession, rm: ReadModel, issued: Sequence[tuple[str, UUID, ev.InvoiceIssued]]
) -> None:
    """InvoiceIssued events of a batch, as if one by one: the first event of an invoice creates its row (the
    customer's partner and country where the invoice names none) and its opening movement; the aging rollup
    follows every invoice of the batch at once."""
    first: dict[tuple[str, str], tuple[UUID, ev.InvoiceIssued]] = {}
    for tenant, event_id, data in issued:
        first.setdefault((tenant, data.invoice_id), (event_id, data))
    keys = sorted(first)
    async with aging_follows_all(session, rm, keys):
        customers = await _customers_of(session, rm, sorted({(t, d.customer_id) for (t, _), (_, d) in first.items()}))
        rows = []
        for key in keys:
            tenant, (_, data) = key[0], first[key]
            partner, country = customers.get((tenant, data.customer_id), (None, None))
            rows.append((tenant, data, data.partner_id or partner, data.billing_country or country))
        inserted = await _insert_invoices(session, rm, rows)
        movements = [
            (
                tenant,
                event_id,
                data.invoice_id,
                datetime.combine(data.issue_date, time(), tzinfo=UTC),
                data.balance_minor,
            )
            for (tenant, invoice_id), (event_id, data) in first.items()
            if (tenant, invoice_id) in inserted and data.balance_minor
        ]  # the invoice is owed from its issue date (the business date aging compares with)
        if movements:
            await session.execute(
                text(
                    f"""
                    INSERT INTO "{rm.schema}".invoice_movements
                        (tenant_id, movement_id, invoice_id, kind, effective_at, delta_minor)
                    SELECT t, m, i, 'issued', e, d FROM unnest(CAST(:t AS text[]), CAST(:m AS uuid[]),
                        CAST(:i AS text[]), CAST(:e AS timestamptz[]), CAST(:d AS bigint[])) AS u(t, m, i, e, d)
                    ON CONFLICT DO NOTHING
                    """
                ),
                {k: [row[n] for row in movements] for n, k in enumerate(("t", "m", "i", "e", "d"))},
            )


async def _customers_of(
    session: AsyncSession, rm: ReadModel, customers: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    found = await session.execute(
        text(
            f"""
            SELECT c.tenant_id, c.customer_id, c.partner_id, c.billing_country
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, customer_id)
            JOIN "{rm.schema}".customers c USING (tenant_id, customer_id)
            """
        ),
        {"tenants": [t for t, _ in customers], "ids": [c for _, c in customers]},
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in found.all()}


_INVOICE_COLUMNS = {
    "tenant_id": "text", "invoice_id": "text", "invoice_number": "text", "customer_id": "text",
    "subscriber_id": "text", "invoice_partner_id": "text", "invoice_billing_country": "text", "partner_id": "text",
    "billing_country": "text", "currency": "text", "issue_date": "date", "due_date": "date", "total_minor": "bigint",
    "balance_minor": "bigint", "status": "text", "issued_at": "timestamptz",
}  # fmt: skip


async def _insert_invoices(
    session: AsyncSession, rm: ReadModel, rows: Sequence[tuple[str, ev.InvoiceIssued, str | None, str | None]]
) -> set[tuple[str, str]]:
    """Insert invoices not known yet; returns (tenant, invoice id) of those inserted."""
    values: dict[str, list[Any]] = {name: [] for name in _INVOICE_COLUMNS}
    for tenant, d, partner, country in rows:
        for name, value in (
            ("tenant_id", tenant), ("invoice_id", d.invoice_id), ("invoice_number", d.invoice_number),
            ("customer_id", d.customer_id), ("subscriber_id", d.subscriber_id), ("invoice_partner_id", d.partner_id),
            ("invoice_billing_country", d.billing_country), ("partner_id", partner), ("billing_country", country),
            ("currency", d.currency), ("issue_date", d.issue_date), ("due_date", d.due_date),
            ("total_minor", d.total_minor), ("balance_minor", d.balance_minor), ("status", "open"),
            ("issued_at", d.issued_at),
        ):  # fmt: skip
            values[name].append(value)
    arrays = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in _INVOICE_COLUMNS.items())
    inserted = await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".invoices ({", ".join(_INVOICE_COLUMNS)})
            SELECT * FROM unnest({arrays})
            ON CONFLICT DO NOTHING
            RETURNING tenant_id, invoice_id
            """
        ),
        values,
    )
    return {(r[0], r[1]) for r in inserted.all()}


async def invoice_overdue(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceOverdue
) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "overdue", data.detected_at, lambda _: data.balance_minor,
        {"overdue_at": data.detected_at, "status": "overdue"},
    )  # fmt: skip


async def invoice_paid(session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoicePaid) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "paid", data.paid_at, lambda _: 0,
        {"paid_at": data.paid_at, "status": "paid"},
    )  # fmt: skip


async def invoice_voided(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceVoided
) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "voided", data.voided_at, lambda _: 0,
        {"voided_at": data.voided_at, "status": "voided"},
    )  # fmt: skip


async def payment_received(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.PaymentReceived
) -> None:
    if data.invoice_id is None or (data.applied_minor == 0 and data.invoice_balance_minor is None):
        return  # unapplied customer credit: not an invoice's balance
    after = data.invoice_balance_minor
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "payment", data.received_at,
        lambda balance: after if after is not None else balance - data.applied_minor,
    )  # fmt: skip


async def credit_note_issued(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.CreditNoteIssued
) -> None:
    if data.invoice_id is None or (data.applied_minor == 0 and data.invoice_balance_minor is None):
        return
    after = data.invoice_balance_minor
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "credit_note", data.issued_at,
        lambda balance: after if after is not None else balance - data.applied_minor,
    )  # fmt: skip


async def _set_balance(
    session: AsyncSession,
    rm: ReadModel,
    tenant: str,
    event_id: UUID,
    invoice_id: str,
    kind: str,
    effective_at: datetime,
    new_balance: Callable[[int], int],
    extra: dict[str, Any] | None = None,
) -> None:
    i = rm.invoices
    balance = await session.scalar(
        select(i.c.balance_minor).where(i.c.tenant_id == tenant, i.c.invoice_id == invoice_id).with_for_update()
    )
    if balance is None:
        # Events of one invoice arrive in order, so its InvoiceIssued came first; if it never came there is
        # no invoice to move (billing's contract guarantees the order; we log rather than invent a row).
        log.warning("balance event for an unknown invoice", extra={"invoice_id": invoice_id, "kind": kind})
        return
    after = new_balance(balance)
    values = dict(extra or {}) | {"balance_minor": after}
    async with aging_follows(session, rm, tenant, invoice_id):
        await session.execute(update(i).where(i.c.tenant_id == tenant, i.c.invoice_id == invoice_id).values(**values))
        if after != balance:
            await _record_movement(session, rm, tenant, event_id, invoice_id, kind, effective_at, after - balance)


async def _record_movement(
    session: AsyncSession,
    rm: ReadModel,
    tenant: str,
    event_id: UUID,
    invoice_id: str,
    kind: str,
    effective_at: datetime,
    delta: int,
) -> None:
    await session.execute(
        insert(rm.invoice_movements)
        .values(
            tenant_id=tenant,
            movement_id=event_id,
            invoice_id=invoice_id,
            kind=kind,
            effective_at=effective_at,
            delta_minor=delta,
        )
        .on_conflict_do_nothing()
    )
