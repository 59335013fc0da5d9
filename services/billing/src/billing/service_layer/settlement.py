"""Money against invoices: payments, credit notes and customer credit lower an invoice's balance.

An invoice whose balance reaches zero is paid (InvoicePaid, once: only an open invoice can become paid).
Customer credit is kept per customer AND currency; it is never converted or added across currencies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.service_layer import messages
from billing.service_layer.deps import Deps


async def apply_to_invoice(
    session: AsyncSession,
    deps: Deps,
    invoice: Row[Any],
    amount: int,
    *,
    source: str,
    source_id: str,
    at: datetime,
) -> Row[Any]:
    """Lower the (locked, open) invoice's balance by `amount` (<= its balance); returns the updated row."""
    if invoice.status != "open" or not 0 < amount <= invoice.balance_minor:
        raise ValueError(f"cannot apply {amount} to invoice {invoice.id} ({invoice.status}, {invoice.balance_minor})")
    balance = invoice.balance_minor - amount
    paid = balance == 0
    updated = await repo.update_invoice(
        session, invoice.tenant_id, invoice.id, balance_minor=balance,
        **({"status": "paid", "paid_at": at} if paid else {}),
    )  # fmt: skip
    await repo.insert_application(session, invoice.tenant_id, invoice.id, source, source_id, amount, at)
    if paid:
        await deps.events.add(session, messages.invoice_paid(updated, at), tenant_id=invoice.tenant_id)
    return updated


async def settle_from_credit(
    session: AsyncSession, deps: Deps, invoice: Row[Any], amount: int, at: datetime
) -> Row[Any]:
    """Use `amount` of the customer's credit (in the invoice's currency) on the invoice."""
    await repo.change_credit(
        session, invoice.tenant_id, invoice.customer_id, invoice.currency, -amount,
        reason="applied_to_invoice", reference_id=invoice.id, at=at,
    )  # fmt: skip
    return await apply_to_invoice(session, deps, invoice, amount, source="customer_credit", source_id=invoice.id, at=at)


async def keep_as_credit(
    session: AsyncSession,
    tenant_id: str,
    customer_id: str,
    currency: str,
    amount: int,
    *,
    reason: str,
    reference_id: str,
    at: datetime,
) -> int:
    """Keep unapplied money as customer credit in its own currency; returns the new credit balance."""
    if amount <= 0:
        return await repo.credit_balance(session, tenant_id, customer_id, currency)
    return await repo.change_credit(
        session, tenant_id, customer_id, currency, amount, reason=reason, reference_id=reference_id, at=at
    )
