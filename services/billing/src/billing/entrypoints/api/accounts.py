"""Payments, credit notes and a customer's account (credit and receivables per currency)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi import status as http
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.entrypoints.api.common import BillingDeps, Finance, Limit, Reader
from billing.entrypoints.schemas import (
    AccountOut,
    ApplicationOut,
    CreditEntryOut,
    CreditNoteCreate,
    CreditNoteOut,
    CurrencyBalance,
    PaymentCreate,
    PaymentOut,
    Receivable,
)
from billing.service_layer import credit_notes, payments
from bss_runtime.errors import Conflict, NotFound
from bss_runtime.inputs import Id, Offset

router = APIRouter(prefix="/billing", tags=["payments and credit"])


async def _payment_out(session: AsyncSession, tenant_id: str, payment_id: str) -> PaymentOut:
    payment = await repo.get_payment(session, tenant_id, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found")
    applied = await repo.applications_of(session, tenant_id, source_id=payment_id)
    return PaymentOut(
        id=payment.id, customer_id=payment.customer_id, currency=payment.currency, amount_minor=payment.amount_minor,
        unapplied_minor=payment.unapplied_minor, method=payment.method, reference=payment.reference,
        external_id=payment.external_id, received_at=payment.received_at,
        applications=[ApplicationOut.model_validate(a) for a in applied if a.source == "payment"],
    )  # fmt: skip


@router.post("/payments", status_code=http.HTTP_201_CREATED)
async def record_payment(body: PaymentCreate, who: Finance, deps: BillingDeps, response: Response) -> PaymentOut:
    """Apply to the named invoice, or to the customer's oldest open invoices in the payment's currency; the
    rest is kept as customer credit. A repeated external_id answers 200 with the first payment."""
    try:
        async with deps.database.transaction() as session:
            outcome = await payments.record_payment(
                session, deps, who.tenant_id, payments.PaymentIn(**body.model_dump())
            )
            if not outcome.created:
                response.status_code = http.HTTP_200_OK
            return await _payment_out(session, who.tenant_id, outcome.payment.id)
    except IntegrityError as exc:  # the same external_id posted twice at the same moment
        if "external_id" not in str(exc.orig):
            raise
        raise Conflict("a payment with this external_id is being recorded; retry", field="external_id") from exc


@router.get("/payments")
async def list_payments(
    who: Reader, deps: BillingDeps, customer_id: Id | None = None, limit: Limit = 50, offset: Offset = 0
) -> list[PaymentOut]:
    async with deps.database.transaction() as session:
        rows = await repo.list_payments(session, who.tenant_id, customer_id, limit=limit, offset=offset)
        return [await _payment_out(session, who.tenant_id, r.id) for r in rows]


@router.get("/payments/{payment_id}")
async def get_payment(payment_id: str, who: Reader, deps: BillingDeps) -> PaymentOut:
    async with deps.database.transaction() as session:
        return await _payment_out(session, who.tenant_id, payment_id)


@router.post("/credit-notes", status_code=http.HTTP_201_CREATED)
async def issue_credit_note(body: CreditNoteCreate, who: Finance, deps: BillingDeps) -> CreditNoteOut:
    """A manual credit note: applied to the named (or the oldest open) invoice, the rest kept as credit."""
    async with deps.database.transaction() as session:
        note = await credit_notes.issue_credit_note(
            session, deps, who.tenant_id, credit_notes.CreditNoteIn(**body.model_dump())
        )
    return CreditNoteOut.model_validate(note)


@router.get("/credit-notes")
async def list_credit_notes(
    who: Reader, deps: BillingDeps, customer_id: Id | None = None, limit: Limit = 50, offset: Offset = 0
) -> list[CreditNoteOut]:
    async with deps.database.transaction() as session:
        rows = await repo.list_credit_notes(session, who.tenant_id, customer_id, limit=limit, offset=offset)
    return [CreditNoteOut.model_validate(r) for r in rows]


@router.get("/credit-notes/{credit_note_id}")
async def get_credit_note(credit_note_id: str, who: Reader, deps: BillingDeps) -> CreditNoteOut:
    async with deps.database.transaction() as session:
        note = await repo.get_credit_note(session, who.tenant_id, credit_note_id)
    if note is None:
        raise NotFound(f"credit note {credit_note_id} not found")
    return CreditNoteOut.model_validate(note)


@router.get("/customers/{customer_id}")
async def customer_account(customer_id: str, who: Reader, deps: BillingDeps) -> AccountOut:
    """What billing knows of the customer, its credit and its open balances, each per currency."""
    async with deps.database.transaction() as session:
        customer = await repo.get_customer(session, who.tenant_id, customer_id)
        if customer is None:
            raise NotFound(f"customer {customer_id} is not known to billing (yet)")
        credits = await repo.credits_of(session, who.tenant_id, customer_id)
        receivables = await repo.receivables_of(session, who.tenant_id, customer_id)
        history = await repo.credit_history(session, who.tenant_id, customer_id)
    return AccountOut(
        customer_id=customer.customer_id, name=customer.name, partner_id=customer.partner_id,
        billing_country=customer.billing_country, timezone=customer.timezone,
        credits=[CurrencyBalance.model_validate(c) for c in credits],
        receivables=[Receivable.model_validate(r) for r in receivables],
        credit_history=[CreditEntryOut.model_validate(h) for h in history],
    )  # fmt: skip
