"""How balance events move invoices, folded over a batch: the rules of `service_layer/invoices.py`'s one-event
functions (the reference), applied in memory to many events of many invoices in their order.

- InvoiceOverdue sets the balance to the event's `balance_minor`, the status to `overdue` and `overdue_at`;
  InvoicePaid and InvoiceVoided set it to 0, the status and `paid_at` / `voided_at`.
- PaymentReceived and CreditNoteIssued set it to `invoice_balance_minor` when billing sent it, else subtract
  `applied_minor`; one that names no invoice, or applies nothing and carries no balance, moves nothing.
- Every change of the balance is a movement keyed by the event's id, dated when the event took effect.
- An event of an invoice not in the read model moves nothing (billing sends an invoice's events in order, so
  its InvoiceIssued came first; the caller logs it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from bss_contracts.events import billing as ev

BalanceEvent = ev.InvoiceOverdue | ev.InvoicePaid | ev.InvoiceVoided | ev.PaymentReceived | ev.CreditNoteIssued
InvoiceKey = tuple[str, str]  # (tenant, invoice id)


class BalanceChange(NamedTuple):
    """One balance event, reduced to what it does to its invoice."""

    tenant_id: str
    event_id: UUID
    invoice_id: str
    kind: str  # the movement's kind
    effective_at: datetime
    set_to: int | None  # the balance afterwards; None: subtract `subtract`
    subtract: int
    status: str | None  # the status afterwards; None: unchanged (also names the timestamp set: `<status>_at`)


class Movement(NamedTuple):
    tenant_id: str
    event_id: UUID
    invoice_id: str
    kind: str
    effective_at: datetime
    delta_minor: int


@dataclass
class InvoiceState:
    """An invoice's balance after the batch and the columns the batch set (None: left as they were)."""

    balance_minor: int
    status: str | None = None
    overdue_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None


def change_of(tenant: str, event_id: UUID, data: BalanceEvent) -> BalanceChange | None:
    """What `data` does to its invoice; None if it moves no invoice."""
    match data:
        case ev.InvoiceOverdue():
            return BalanceChange(
                tenant, event_id, data.invoice_id, "overdue", data.detected_at, data.balance_minor, 0, "overdue"
            )
        case ev.InvoicePaid():
            return BalanceChange(tenant, event_id, data.invoice_id, "paid", data.paid_at, 0, 0, "paid")
        case ev.InvoiceVoided():
            return BalanceChange(tenant, event_id, data.invoice_id, "voided", data.voided_at, 0, 0, "voided")
        case ev.PaymentReceived() | ev.CreditNoteIssued():
            if data.invoice_id is None or (data.applied_minor == 0 and data.invoice_balance_minor is None):
                return None  # unapplied customer credit: not an invoice's balance
            kind, at = (
                ("payment", data.received_at)
                if isinstance(data, ev.PaymentReceived)
                else ("credit_note", data.issued_at)
            )
            return BalanceChange(
                tenant, event_id, data.invoice_id, kind, at, data.invoice_balance_minor, data.applied_minor, None
            )
    raise TypeError(f"not a balance event: {type(data).__name__}")


def fold_balances(
    balances: Mapping[InvoiceKey, int], changes: Iterable[BalanceChange]
) -> tuple[dict[InvoiceKey, InvoiceState], list[Movement]]:
    """Apply `changes` in order to the invoices whose balance before the batch is in `balances` (changes of
    other invoices are dropped): each invoice's state afterwards and every movement, in order."""
    states: dict[InvoiceKey, InvoiceState] = {}
    movements: list[Movement] = []
    for c in changes:
        key = (c.tenant_id, c.invoice_id)
        state = states.get(key)
        if state is None:
            if key not in balances:
                continue
            state = states[key] = InvoiceState(balances[key])
        before = state.balance_minor
        state.balance_minor = c.set_to if c.set_to is not None else before - c.subtract
        if c.status is not None:
            state.status = c.status
            setattr(state, f"{c.status}_at", c.effective_at)
        if state.balance_minor != before:
            movements.append(
                Movement(c.tenant_id, c.event_id, c.invoice_id, c.kind, c.effective_at, state.balance_minor - before)
            )
    return states, movements
