"""Money coming in, credits, voided invoices and cancellations: how an execution ends other than by failing.

A payment that clears the balance completes the execution and asks for the reinstatement of what it
suspended; a partial payment lowers the outstanding amount (recorded) and the campaign goes on; a voided
invoice cancels the execution. The invoice's newest execution is locked first, so these wait for a worker
that is in the middle of one of its steps and see what that step did.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.billing import CreditNoteIssued, InvoicePaid, InvoiceVoided, PaymentReceived
from bss_contracts.events.dunning import DunningCanceled, DunningCompleted
from bss_runtime.errors import Conflict, NotFound
from dunning.adapters import repository as repo
from dunning.domain import execution as machine
from dunning.service_layer.deps import Deps
from dunning.service_layer.subscribers import request_reinstatement

log = logging.getLogger(__name__)


async def payment_received(session: AsyncSession, deps: Deps, tenant_id: str, event: PaymentReceived) -> None:
    if event.invoice_id is None or event.applied_minor == 0:
        return  # customer credit, not applied to an invoice
    execution = await _execution_for(
        session, tenant_id, event.invoice_id, event.currency, event.applied_minor, event.invoice_balance_minor
    )
    if execution is None:
        return
    balance = machine.apply_payment(execution.balance, event.applied_minor, event.invoice_balance_minor)
    await _record(session, deps, execution, balance, "payment", event.payment_id, event.applied_minor,
                  event.received_at)  # fmt: skip


async def credit_note_issued(session: AsyncSession, deps: Deps, tenant_id: str, event: CreditNoteIssued) -> None:
    if event.invoice_id is None or event.applied_minor == 0:
        return
    execution = await _execution_for(
        session, tenant_id, event.invoice_id, event.currency, event.applied_minor, event.invoice_balance_minor
    )
    if execution is None:
        return
    balance = machine.apply_credit(execution.balance, event.applied_minor, event.invoice_balance_minor)
    await _record(session, deps, execution, balance, "credit_note", event.credit_note_id, event.applied_minor,
                  event.issued_at)  # fmt: skip


async def invoice_paid(session: AsyncSession, deps: Deps, tenant_id: str, event: InvoicePaid) -> None:
    execution = await _execution_for(session, tenant_id, event.invoice_id, event.currency, 0, 0)
    if execution is None:
        return
    if execution.outstanding_minor == 0 and not execution.progress.active:
        return  # the payment that cleared it was seen already
    balance = machine.apply_paid_in_full(execution.balance)
    await _record(session, deps, execution, balance, "invoice_paid", event.invoice_id, execution.outstanding_minor,
                  event.paid_at)  # fmt: skip


async def invoice_voided(session: AsyncSession, deps: Deps, tenant_id: str, event: InvoiceVoided) -> None:
    invoice = await repo.get_invoice(session, tenant_id, event.invoice_id, for_update=True)
    if invoice is not None:
        await repo.update_invoice(session, tenant_id, event.invoice_id, status="voided", next_check_at=None)
    execution = await repo.latest_execution_for_invoice(session, tenant_id, event.invoice_id)
    if execution is None:
        return
    reason = f"invoice voided: {event.reason}"
    if execution.progress.active:
        await _cancel(session, deps, execution, reason=reason, by="billing", reinstate=True)
    elif execution.suspended_subscriber_ids:  # ended (e.g. failed) with a suspension still in place
        await request_reinstatement(session, deps, execution, execution.suspended_subscriber_ids, reason=reason)
        await repo.update_execution(session, tenant_id, execution.id, suspended_subscriber_ids=[])


async def cancel_execution(
    session: AsyncSession, deps: Deps, tenant_id: str, execution_id: str, *, reason: str, by: str, reinstate: bool
) -> repo.ExecutionRecord:
    execution = await repo.get_execution(session, tenant_id, execution_id, for_update=True)
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    if not execution.progress.active:
        raise Conflict(f"execution is already {execution.status}; only pending or in-progress ones can be canceled")
    await _cancel(session, deps, execution, reason=reason, by=by, reinstate=reinstate)
    canceled = await repo.get_execution(session, tenant_id, execution_id)
    assert canceled is not None
    return canceled


async def _cancel(
    session: AsyncSession, deps: Deps, execution: repo.ExecutionRecord, *, reason: str, by: str, reinstate: bool
) -> None:
    now = deps.clock.now()
    after = machine.cancel(execution.progress)
    suspended = list(execution.suspended_subscriber_ids)
    if reinstate and suspended:
        await request_reinstatement(session, deps, execution, suspended, reason=reason)
        suspended = []
    await repo.update_execution(
        session, execution.tenant_id, execution.id, status=after.status, next_action_at=None, completed_at=now,
        canceled_reason=reason, canceled_by=by, suspended_subscriber_ids=suspended,
    )  # fmt: skip
    await deps.events.add(
        session,
        DunningCanceled(
            execution_id=execution.id, campaign_id=execution.campaign_id, invoice_id=execution.invoice_id,
            customer_id=execution.customer_id, subscriber_id=execution.subscriber_id, reason=reason,
            canceled_by=by, canceled_at=now,
        ),
        tenant_id=execution.tenant_id,
    )  # fmt: skip


async def _execution_for(
    session: AsyncSession,
    tenant_id: str,
    invoice_id: str,
    currency: str,
    applied_minor: int,
    balance_after: int | None,
) -> repo.ExecutionRecord | None:
    """Refresh the recorded invoice's balance and return its newest execution (locked), if any."""
    invoice = await repo.get_invoice(session, tenant_id, invoice_id, for_update=True)
    if invoice is not None and invoice.currency == currency:
        left = balance_after if balance_after is not None else max(0, invoice.balance_minor - applied_minor)
        await repo.update_invoice(
            session, tenant_id, invoice_id, balance_minor=left,
            status="paid" if left == 0 and invoice.status == "overdue" else invoice.status,
        )  # fmt: skip
    execution = await repo.latest_execution_for_invoice(session, tenant_id, invoice_id)
    if execution is not None and execution.currency != currency:
        log.warning(
            "amount in another currency than the invoice's ignored",
            extra={"execution_id": execution.id, "currency": currency, "expected": execution.currency},
        )  # fmt: skip
        return None
    return execution


async def _record(
    session: AsyncSession,
    deps: Deps,
    execution: repo.ExecutionRecord,
    balance: machine.Balance,
    kind: str,
    reference: str,
    amount_minor: int,
    occurred_at: datetime,
) -> None:
    """Record the change of balance once and complete the execution if nothing is owed any more."""
    tenant = execution.tenant_id
    first_time = await repo.record_balance_change(
        session,
        {
            "tenant_id": tenant, "execution_id": execution.id, "kind": kind, "reference_id": reference,
            "amount_minor": amount_minor, "currency": execution.currency,
            "outstanding_after_minor": balance.outstanding_minor, "occurred_at": occurred_at,
        },
    )  # fmt: skip
    if not first_time:
        return
    values: dict[str, object] = {
        "outstanding_minor": balance.outstanding_minor, "recovered_minor": balance.recovered_minor,
    }  # fmt: skip
    if balance.outstanding_minor == 0:
        now = deps.clock.now()
        if execution.progress.active:
            after = machine.settle(execution.progress)
            values |= {"status": after.status, "next_action_at": None, "completed_at": now}
            await deps.events.add(
                session,
                DunningCompleted(
                    execution_id=execution.id, campaign_id=execution.campaign_id, invoice_id=execution.invoice_id,
                    customer_id=execution.customer_id, subscriber_id=execution.subscriber_id,
                    outcome="recovered", outstanding_minor=0, recovered_minor=balance.recovered_minor,
                    currency=execution.currency, completed_at=now,
                ),
                tenant_id=tenant,
            )  # fmt: skip
        if execution.suspended_subscriber_ids:
            await request_reinstatement(
                session, deps, execution, execution.suspended_subscriber_ids,
                reason=f"invoice {execution.invoice_id} settled",
            )  # fmt: skip
            values["suspended_subscriber_ids"] = []
    await repo.update_execution(session, tenant, execution.id, **values)
