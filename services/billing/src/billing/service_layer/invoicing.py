"""Invoices: drafts with lines, issuing (number, dates, customer credit), voiding.

A draft has no number; the number is taken when the invoice is issued, in the issuing transaction, from the
tenant's gapless counter. Issuing snapshots the customer's partner and billing country onto the invoice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.domain.amounts import Line, LineKind, make_line, totals
from billing.domain.calendar import local_date, start_of_day
from billing.domain.numbering import Series, document_number
from billing.service_layer import messages, settlement
from billing.service_layer.accounts import require_customer, require_subscriber
from billing.service_layer.deps import Deps, new_id
from bss_runtime.errors import Conflict, NotFound, RuleViolation


@dataclass(frozen=True)
class LineInput:
    description: str
    unit_price_minor: int
    quantity: Decimal = Decimal(1)
    kind: LineKind = "one_off"
    tax_rate_bp: int = 0

    def line(self) -> Line:
        return make_line(
            self.kind, self.description, quantity=self.quantity, unit_price_minor=self.unit_price_minor,
            tax_rate_bp=self.tax_rate_bp,
        )  # fmt: skip


async def get(session: AsyncSession, tenant_id: str, invoice_id: str, *, lock: bool = False) -> Row[Any]:
    invoice = await repo.get_invoice(session, tenant_id, invoice_id, lock=lock)
    if invoice is None:
        raise NotFound(f"invoice {invoice_id} not found")
    return invoice


async def create_draft(
    session: AsyncSession,
    deps: Deps,
    tenant_id: str,
    *,
    customer_id: str,
    currency: str,
    lines: Sequence[Line],
    subscriber_id: str | None = None,
    subscription_id: str | None = None,
    period: tuple[date, date] | None = None,
    memo: str | None = None,
    payment_terms_days: int | None = None,
    usage_period_starts: Sequence[date | None] | None = None,
) -> Row[Any]:
    customer = await require_customer(session, tenant_id, customer_id)
    if subscriber_id is not None:
        subscriber = await require_subscriber(session, tenant_id, subscriber_id)
        if subscriber.customer_id != customer_id:
            raise RuleViolation("the subscriber belongs to another customer", field="subscriber_id")
    invoice = await repo.insert_invoice(
        session,
        {
            "id": new_id(), "tenant_id": tenant_id, "customer_id": customer_id, "subscriber_id": subscriber_id,
            "subscription_id": subscription_id, "partner_id": customer.partner_id,
            "billing_country": customer.billing_country, "currency": currency, "status": "draft", "memo": memo,
            "period_start": period[0] if period else None, "period_end": period[1] if period else None,
            "payment_terms_days": payment_terms_days,
        },
    )  # fmt: skip
    return await _add(session, invoice, lines, usage_period_starts)


async def add_lines(session: AsyncSession, tenant_id: str, invoice_id: str, lines: Sequence[Line]) -> Row[Any]:
    invoice = await get(session, tenant_id, invoice_id, lock=True)
    if invoice.status != "draft":
        raise Conflict(f"invoice {invoice.number} is {invoice.status}: only drafts take new lines")
    return await _add(session, invoice, lines, None)


async def _add(
    session: AsyncSession, invoice: Row[Any], lines: Sequence[Line], periods: Sequence[date | None] | None
) -> Row[Any]:
    existing = await repo.lines_of(session, invoice.tenant_id, invoice.id)
    await repo.insert_lines(
        session, invoice.tenant_id, invoice.id, lines, first_position=len(existing) + 1, usage_period_starts=periods
    )
    every = [_as_line(row) for row in existing] + list(lines)
    sums = totals(every, invoice.currency)
    return await repo.update_invoice(
        session, invoice.tenant_id, invoice.id, subtotal_minor=sums.subtotal.amount_minor,
        tax_minor=sums.tax.amount_minor, total_minor=sums.total.amount_minor,
    )  # fmt: skip


def _as_line(row: Row[Any]) -> Line:
    return Line(
        row.kind, row.description, row.quantity, row.unit_price_minor, row.tax_rate_bp, row.amount_minor, row.tax_minor
    )


async def issue(session: AsyncSession, deps: Deps, tenant_id: str, invoice_id: str) -> Row[Any]:
    invoice = await get(session, tenant_id, invoice_id, lock=True)
    if invoice.status != "draft":
        raise Conflict(f"invoice {invoice.number} is already {invoice.status}")
    return await issue_draft(session, deps, invoice)


async def issue_draft(
    session: AsyncSession, deps: Deps, invoice: Row[Any], *, issue_date: date | None = None
) -> Row[Any]:
    """Number, date (today in the customer's zone, unless given) and open the (locked) draft; settle what the
    customer's credit covers."""
    tenant_id = invoice.tenant_id
    lines = await repo.lines_of(session, tenant_id, invoice.id)
    if not lines:
        raise RuleViolation("an invoice needs at least one line", field="lines")
    if invoice.total_minor < 0:
        raise RuleViolation("the total is below zero: issue a credit note instead", field="lines")
    customer = await require_customer(session, tenant_id, invoice.customer_id)
    tz = deps.zone(customer.timezone)
    now = deps.clock.now()
    issue_date = issue_date or local_date(now, tz)
    terms = invoice.payment_terms_days if invoice.payment_terms_days is not None else deps.payment_terms_days
    due_date = issue_date + timedelta(days=terms)
    sequence = await repo.next_sequence(session, tenant_id, Series.INVOICE.value, issue_date.year)
    invoice = await repo.update_invoice(
        session, tenant_id, invoice.id, number=document_number(Series.INVOICE, issue_date.year, sequence),
        status="open", issue_date=issue_date, due_date=due_date, payment_terms_days=terms,
        overdue_at=start_of_day(due_date + timedelta(days=1), tz), issued_at=now, balance_minor=invoice.total_minor,
        partner_id=customer.partner_id, billing_country=customer.billing_country,
    )  # fmt: skip
    credit = await repo.credit_balance(session, tenant_id, invoice.customer_id, invoice.currency, lock=True)
    from_credit = min(credit, invoice.total_minor)
    issued = messages.invoice_issued(invoice, lines, balance_minor=invoice.total_minor - from_credit)
    await deps.events.add(session, issued, tenant_id=tenant_id)
    if from_credit > 0:
        invoice = await settlement.settle_from_credit(session, deps, invoice, from_credit, now)
    elif invoice.total_minor == 0:
        invoice = await repo.update_invoice(session, tenant_id, invoice.id, status="paid", paid_at=now)
        await deps.events.add(session, messages.invoice_paid(invoice, now), tenant_id=tenant_id)
    return invoice


async def void(session: AsyncSession, deps: Deps, tenant_id: str, invoice_id: str, reason: str) -> Row[Any]:
    """Void a draft (no event: nobody saw it) or an open invoice; what was already settled on an open invoice
    (payments, credit notes, credit) goes back to the customer's credit in its currency."""
    invoice = await get(session, tenant_id, invoice_id, lock=True)
    now = deps.clock.now()
    if invoice.status == "draft":
        return await repo.update_invoice(
            session, tenant_id, invoice_id, status="void", voided_at=now, void_reason=reason
        )
    if invoice.status != "open":
        hint = ": correct it with a credit note" if invoice.status == "paid" else ""
        raise Conflict(f"invoice {invoice.number} is {invoice.status}{hint}")
    settled = invoice.total_minor - invoice.balance_minor
    voided = await repo.update_invoice(
        session, tenant_id, invoice_id, status="void", voided_at=now, void_reason=reason, balance_minor=0
    )
    await settlement.keep_as_credit(
        session, tenant_id, invoice.customer_id, invoice.currency, settled,
        reason="invoice_voided", reference_id=invoice.id, at=now,
    )  # fmt: skip
    event = messages.invoice_voided(voided, balance_minor=invoice.balance_minor, reason=reason, at=now)
    await deps.events.add(session, event, tenant_id=tenant_id)
    return voided
