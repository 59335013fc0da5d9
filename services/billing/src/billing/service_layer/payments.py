"""Payments: applied to a named invoice, or to the customer's oldest open invoices in the payment's currency.

What is left over is kept as customer credit in the payment's currency and settles the next invoice issued
in that currency. A payment is never applied to an invoice of another currency (422).

Events: one PaymentReceived per invoice the payment touched (applied_minor = the part for that invoice); the
last one carries the unapplied rest, so that over one payment's events sum(applied) + sum(unapplied) equals
the payment. A payment that touched no invoice has one event without invoice_id, keyed by the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.domain.settlement import OpenBalance, allocate
from billing.service_layer import invoicing, settlement
from billing.service_layer.accounts import require_customer
from billing.service_layer.deps import Deps, new_id
from bss_contracts.events.billing import PaymentReceived
from bss_runtime.errors import RuleViolation


@dataclass(frozen=True)
class PaymentIn:
    amount_minor: int
    currency: str
    customer_id: str | None = None
    invoice_id: str | None = None
    method: str | None = None
    reference: str | None = None
    external_id: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True)
class PaymentOutcome:
    payment: Row[Any]
    created: bool  # False: the external_id was recorded before, this is that payment


async def record_payment(session: AsyncSession, deps: Deps, tenant_id: str, body: PaymentIn) -> PaymentOutcome:
    if body.external_id is not None:
        known = await repo.payment_by_external_id(session, tenant_id, body.external_id)
        if known is not None:
            return PaymentOutcome(known, created=False)
    customer_id, targets = await _targets(session, tenant_id, body)
    now = deps.clock.now()
    allocations, rest = allocate(
        body.amount_minor, [OpenBalance(invoice.id, invoice.balance_minor) for invoice in targets]
    )
    payment = await repo.insert_payment(
        session,
        {
            "id": new_id(), "tenant_id": tenant_id, "customer_id": customer_id, "currency": body.currency,
            "amount_minor": body.amount_minor, "unapplied_minor": rest, "method": body.method,
            "reference": body.reference, "external_id": body.external_id, "invoice_id": body.invoice_id,
            "received_at": body.received_at or now,
        },
    )  # fmt: skip
    by_id = {invoice.id: invoice for invoice in targets}

    def event(invoice_id: str | None, applied: int, balance: int | None, last: bool) -> PaymentReceived:
        return PaymentReceived(
            payment_id=payment.id, customer_id=customer_id, invoice_id=invoice_id, amount_minor=body.amount_minor,
            applied_minor=applied, unapplied_minor=rest if last else 0, currency=body.currency,
            invoice_balance_minor=balance, method=body.method, reference=body.reference,
            received_at=payment.received_at,
        )  # fmt: skip

    for i, allocation in enumerate(allocations):
        last = i == len(allocations) - 1
        received = event(allocation.invoice_id, allocation.applied_minor, allocation.balance_after_minor, last)
        await deps.events.add(session, received, tenant_id=tenant_id)
        await settlement.apply_to_invoice(
            session, deps, by_id[allocation.invoice_id], allocation.applied_minor,
            source="payment", source_id=payment.id, at=now,
        )  # fmt: skip
    if not allocations:
        await deps.events.add(session, event(None, 0, None, True), tenant_id=tenant_id)
    await settlement.keep_as_credit(
        session, tenant_id, customer_id, body.currency, rest, reason="overpayment", reference_id=payment.id, at=now
    )
    return PaymentOutcome(payment, created=True)


async def _targets(session: AsyncSession, tenant_id: str, body: PaymentIn) -> tuple[str, list[Row[Any]]]:
    """The paying customer and the invoices to settle, locked, oldest first."""
    if body.invoice_id is None:
        if body.customer_id is None:
            raise RuleViolation("name the invoice or the customer the payment is from", field="customer_id")
        await require_customer(session, tenant_id, body.customer_id)
        return body.customer_id, list(await repo.open_invoices(session, tenant_id, body.customer_id, body.currency))
    invoice = await invoicing.get(session, tenant_id, body.invoice_id, lock=True)
    if body.customer_id is not None and body.customer_id != invoice.customer_id:
        raise RuleViolation("the invoice belongs to another customer", field="invoice_id")
    if body.currency != invoice.currency:
        raise RuleViolation(
            f"invoice {invoice.number} is in {invoice.currency}; a payment in {body.currency} cannot be applied "
            "to it (amounts of different currencies are never added)",
            field="currency",
        )
    if invoice.status != "open":
        raise RuleViolation(
            f"invoice {invoice.number or invoice.id} is {invoice.status}: only open invoices take payments "
            "(post it without invoice_id to keep it as customer credit)",
            field="invoice_id",
        )
    return invoice.customer_id, [invoice]
