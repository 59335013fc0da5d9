"""Credit notes (manual, or SLA credits): numbered per tenant without gaps, applied to one invoice's balance
(never below zero), the rest kept as customer credit in the note's currency.

The invoice is the named one, or else the customer's oldest open invoice in the note's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.domain.calendar import local_date
from billing.domain.numbering import Series, document_number
from billing.service_layer import invoicing, settlement
from billing.service_layer.accounts import require_customer
from billing.service_layer.deps import Deps, new_id
from bss_contracts.events.billing import CreditNoteIssued
from bss_runtime.errors import RuleViolation


@dataclass(frozen=True)
class CreditNoteIn:
    amount_minor: int
    currency: str
    reason: str
    customer_id: str | None = None
    invoice_id: str | None = None
    kind: Literal["manual", "sla"] = "manual"
    sla_breach_id: str | None = None


async def issue_credit_note(session: AsyncSession, deps: Deps, tenant_id: str, body: CreditNoteIn) -> Row[Any]:
    customer_id, invoice = await _target(session, tenant_id, body)
    customer = await require_customer(session, tenant_id, customer_id)
    now = deps.clock.now()
    applied = min(body.amount_minor, invoice.balance_minor) if invoice is not None and invoice.status == "open" else 0
    year = local_date(now, deps.zone(customer.timezone)).year
    sequence = await repo.next_sequence(session, tenant_id, Series.CREDIT_NOTE.value, year)
    note = await repo.insert_credit_note(
        session,
        {
            "id": new_id(), "tenant_id": tenant_id, "number": document_number(Series.CREDIT_NOTE, year, sequence),
            "customer_id": customer_id, "invoice_id": invoice.id if invoice is not None else None, "kind": body.kind,
            "amount_minor": body.amount_minor, "applied_minor": applied, "currency": body.currency,
            "reason": body.reason, "sla_breach_id": body.sla_breach_id, "issued_at": now,
        },
    )  # fmt: skip
    balance = invoice.balance_minor - applied if invoice is not None else None
    event = CreditNoteIssued(
        credit_note_id=note.id, credit_note_number=note.number, customer_id=customer_id, invoice_id=note.invoice_id,
        kind=body.kind, amount_minor=body.amount_minor, applied_minor=applied, currency=body.currency,
        reason=body.reason, sla_breach_id=body.sla_breach_id, invoice_balance_minor=balance, issued_at=now,
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=tenant_id)
    if invoice is not None and applied > 0:
        await settlement.apply_to_invoice(
            session, deps, invoice, applied, source="credit_note", source_id=note.id, at=now
        )
    await settlement.keep_as_credit(
        session, tenant_id, customer_id, body.currency, body.amount_minor - applied,
        reason="credit_note", reference_id=note.id, at=now,
    )  # fmt: skip
    return note


async def _target(session: AsyncSession, tenant_id: str, body: CreditNoteIn) -> tuple[str, Row[Any] | None]:
    if body.invoice_id is None:
        if body.customer_id is None:
            raise RuleViolation("name the invoice or the customer to credit", field="customer_id")
        oldest = await repo.open_invoices(session, tenant_id, body.customer_id, body.currency, limit=1)
        return body.customer_id, oldest[0] if oldest else None
    invoice = await invoicing.get(session, tenant_id, body.invoice_id, lock=True)
    if body.customer_id is not None and body.customer_id != invoice.customer_id:
        raise RuleViolation("the invoice belongs to another customer", field="invoice_id")
    if body.currency != invoice.currency:
        raise RuleViolation(
            f"invoice {invoice.number} is in {invoice.currency}; a credit note in {body.currency} cannot be "
            "applied to it (amounts of different currencies are never added)",
            field="currency",
        )
    if invoice.status not in ("open", "paid"):
        raise RuleViolation(f"invoice is {invoice.status}: only issued invoices are credited", field="invoice_id")
    return invoice.customer_id, invoice
