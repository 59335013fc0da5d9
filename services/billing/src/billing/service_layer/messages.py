"""Events built from stored rows, so that every event of an invoice carries the same facts.

An invoice is a `Row` of `invoices` or anything with the same attribute names (the bill run's
`IssuedInvoice`); a line, a `Row` of `invoice_lines` or a `domain.amounts.Line`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row

from bss_contracts.events.billing import InvoiceIssued, InvoiceLine, InvoiceOverdue, InvoicePaid, InvoiceVoided


def _last_day(end: date | None) -> date | None:
    """Periods are stored with an exclusive end; events and the API show the last day (inclusive)."""
    return end - timedelta(days=1) if end is not None else None


def _identity(invoice: Any) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id, "invoice_number": invoice.number, "customer_id": invoice.customer_id,
        "subscriber_id": invoice.subscriber_id, "partner_id": invoice.partner_id,
        "billing_country": invoice.billing_country, "currency": invoice.currency,
    }  # fmt: skip


def invoice_issued(invoice: Any, lines: Sequence[Any], *, balance_minor: int) -> InvoiceIssued:
    return InvoiceIssued(
        **_identity(invoice),
        subscription_id=invoice.subscription_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        period_start=invoice.period_start,
        period_end=_last_day(invoice.period_end),
        lines=tuple(
            InvoiceLine(
                description=line.description,
                kind=line.kind,
                quantity=float(line.quantity),
                unit_price_minor=line.unit_price_minor,
                amount_minor=line.amount_minor,
                tax_minor=line.tax_minor,
            )
            for line in lines
        ),
        subtotal_minor=invoice.subtotal_minor,
        tax_minor=invoice.tax_minor,
        total_minor=invoice.total_minor,
        balance_minor=balance_minor,
        issued_at=invoice.issued_at,
    )


def invoice_paid(invoice: Any, paid_at: datetime) -> InvoicePaid:
    return InvoicePaid(**_identity(invoice), total_minor=invoice.total_minor, paid_at=paid_at)


def invoice_voided(invoice: Row[Any], *, balance_minor: int, reason: str, at: datetime) -> InvoiceVoided:
    return InvoiceVoided(**_identity(invoice), reason=reason, balance_minor=balance_minor, voided_at=at)


def invoice_overdue(invoice: Row[Any], *, today: date, at: datetime) -> InvoiceOverdue:
    return InvoiceOverdue(
        **_identity(invoice),
        due_date=invoice.due_date,
        total_minor=invoice.total_minor,
        balance_minor=invoice.balance_minor,
        days_past_due=max(1, (today - invoice.due_date).days),
        detected_at=at,
    )
