"""Invoices into the read model: one row per invoice with its open balance, and every balance movement.

The balance follows billing's events. Payments and credit notes carry the invoice's balance afterwards when
billing knows it (then we take it as is); otherwise the applied amount is subtracted. Each change is also
kept as a movement dated when it took effect, which is what aging as of a past date reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing as ev
from reporting.adapters.tables import ReadModel
from reporting.service_layer.aging import aging_follows

log = logging.getLogger(__name__)


async def invoice_issued(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceIssued
) -> None:
    async with aging_follows(session, rm, tenant, data.invoice_id):
        await _issue(session, rm, tenant, event_id, data)


async def _issue(session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceIssued) -> None:
    i, c = rm.invoices, rm.customers
    customer = (
        await session.execute(
            select(c.c.partner_id, c.c.billing_country).where(
                c.c.tenant_id == tenant, c.c.customer_id == data.customer_id
            )
        )
    ).first()
    inserted = await session.scalar(
        insert(i)
        .values(
            tenant_id=tenant,
            invoice_id=data.invoice_id,
            invoice_number=data.invoice_number,
            customer_id=data.customer_id,
            subscriber_id=data.subscriber_id,
            invoice_partner_id=data.partner_id,
            invoice_billing_country=data.billing_country,
            partner_id=data.partner_id or (customer.partner_id if customer else None),
            billing_country=data.billing_country or (customer.billing_country if customer else None),
            currency=data.currency,
            issue_date=data.issue_date,
            due_date=data.due_date,
            total_minor=data.total_minor,
            balance_minor=data.balance_minor,
            status="open",
            issued_at=data.issued_at,
        )
        .on_conflict_do_nothing()
        .returning(i.c.invoice_id)
    )
    if inserted is not None and data.balance_minor:
        # The invoice is owed from its issue date (the business date aging compares with).
        effective = datetime.combine(data.issue_date, time(), tzinfo=UTC)
        await _record_movement(session, rm, tenant, event_id, data.invoice_id, "issued", effective, data.balance_minor)


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
