"""Overdue detection: an open invoice with a balance whose due date has passed in the customer's time zone.

When an invoice is issued, `overdue_at` is set to the start of the day after its due date in the customer's
time zone (at that moment). The scheduler claims invoices whose `overdue_at` has come, marks them reported and
writes InvoiceOverdue in the same transaction (see `repository.claim_overdue`): exactly one event per invoice,
however many schedulers run.
"""

from __future__ import annotations

from billing.adapters import repository as repo
from billing.domain.calendar import local_date
from billing.service_layer import messages
from billing.service_layer.deps import Deps
from bss_contracts.events.billing import InvoiceOverdue


async def report_overdue(deps: Deps, *, tenant_id: str | None = None) -> int:
    """Report every invoice (of one tenant, or all) that became overdue by now; returns how many this call
    reported."""
    now = deps.clock.now()
    if tenant_id is not None:
        tenants = [tenant_id]
    else:
        async with deps.database.transaction() as session:
            tenants = await repo.tenants_with_overdue(session, now)
    reported = 0
    for tenant in tenants:
        while True:
            async with deps.database.transaction() as session:
                claimed = await repo.claim_overdue(session, tenant, now, deps.batch_size)
                zones: dict[str, str | None] = {}
                for invoice in claimed:
                    if invoice.customer_id not in zones:
                        customer = await repo.get_customer(session, tenant, invoice.customer_id)
                        zones[invoice.customer_id] = customer.timezone if customer is not None else None
                    today = local_date(now, deps.zone(zones[invoice.customer_id]))
                    event: InvoiceOverdue = messages.invoice_overdue(invoice, today=today, at=now)
                    await deps.events.add(session, event, tenant_id=tenant)
            reported += len(claimed)
            if len(claimed) < deps.batch_size:
                break
    return reported
