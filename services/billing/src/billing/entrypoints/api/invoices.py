"""Invoices: drafts, lines, issue, void, listing; and the overdue trigger."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi import status as http
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as repo
from billing.domain.amounts import Line
from billing.entrypoints.api.common import BillingDeps, Finance, Limit, Operator, Reader
from billing.entrypoints.schemas import InvoiceCreate, InvoiceOut, InvoicePage, LineIn, LinesAdd, TriggerOut, VoidIn
from billing.service_layer import invoicing, overdue
from bss_contracts.money import Currency
from bss_runtime.inputs import Id, Offset

router = APIRouter(prefix="/billing", tags=["invoices"])


def _lines(lines: list[LineIn]) -> list[Line]:
    return [
        invoicing.LineInput(
            description=line.description, unit_price_minor=line.unit_price_minor, quantity=line.quantity,
            kind=line.kind, tax_rate_bp=line.tax_rate_bp,
        ).line()
        for line in lines
    ]  # fmt: skip


async def _out(session: AsyncSession, tenant_id: str, invoice_id: str) -> InvoiceOut:
    invoice = await invoicing.get(session, tenant_id, invoice_id)
    return InvoiceOut.of(invoice, await repo.lines_of(session, tenant_id, invoice_id))


@router.post("/invoices", status_code=http.HTTP_201_CREATED)
async def create_invoice(body: InvoiceCreate, who: Finance, deps: BillingDeps) -> InvoiceOut:
    """A draft (no number yet); with `issue: true` it is issued at once."""
    async with deps.database.transaction() as session:
        invoice = await invoicing.create_draft(
            session, deps, who.tenant_id, customer_id=body.customer_id, currency=body.currency,
            lines=_lines(body.lines), subscriber_id=body.subscriber_id, memo=body.memo,
            payment_terms_days=body.payment_terms_days,
        )  # fmt: skip
        if body.issue:
            await invoicing.issue_draft(session, deps, invoice)
        return await _out(session, who.tenant_id, invoice.id)


@router.get("/invoices")
async def list_invoices(
    who: Reader,
    deps: BillingDeps,
    customer_id: Id | None = None,
    status: Literal["draft", "open", "paid", "void"] | None = None,
    currency: Currency | None = None,
    subscription_id: Id | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> InvoicePage:
    where = repo.InvoiceFilter(
        customer_id=customer_id, status=status, currency=currency, subscription_id=subscription_id
    )
    async with deps.database.transaction() as session:
        rows, total = await repo.list_invoices(session, who.tenant_id, where, limit=limit, offset=offset)
        lines = await repo.lines_of_many(session, who.tenant_id, [r.id for r in rows])
    return InvoicePage(items=[InvoiceOut.of(r, lines[r.id]) for r in rows], total=total)


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: str, who: Reader, deps: BillingDeps) -> InvoiceOut:
    async with deps.database.transaction() as session:
        return await _out(session, who.tenant_id, invoice_id)


@router.post("/invoices/{invoice_id}/lines")
async def add_lines(invoice_id: str, body: LinesAdd, who: Finance, deps: BillingDeps) -> InvoiceOut:
    async with deps.database.transaction() as session:
        await invoicing.add_lines(session, who.tenant_id, invoice_id, _lines(body.lines))
        return await _out(session, who.tenant_id, invoice_id)


@router.post("/invoices/{invoice_id}/issue")
async def issue_invoice(invoice_id: str, who: Finance, deps: BillingDeps) -> InvoiceOut:
    async with deps.database.transaction() as session:
        await invoicing.issue(session, deps, who.tenant_id, invoice_id)
        return await _out(session, who.tenant_id, invoice_id)


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(invoice_id: str, body: VoidIn, who: Finance, deps: BillingDeps) -> InvoiceOut:
    async with deps.database.transaction() as session:
        await invoicing.void(session, deps, who.tenant_id, invoice_id, body.reason)
        return await _out(session, who.tenant_id, invoice_id)


@router.post("/invoices/overdue-scan")
async def scan_overdue(who: Operator, deps: BillingDeps) -> TriggerOut:
    """Report the caller's tenant's invoices that became overdue (what the scheduler does on its own)."""
    return TriggerOut(processed=await overdue.report_overdue(deps, tenant_id=who.tenant_id))
