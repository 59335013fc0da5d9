"""How money received (payments, credit notes, customer credit) is spread over open invoices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OpenBalance:
    invoice_id: str
    balance_minor: int


@dataclass(frozen=True)
class Allocation:
    invoice_id: str
    applied_minor: int
    balance_after_minor: int


def allocate(amount_minor: int, invoices: Sequence[OpenBalance]) -> tuple[list[Allocation], int]:
    """Apply `amount_minor` to `invoices` in the given order (oldest first), never below a zero balance.

    Returns the allocations (only invoices that received something) and the rest, which the caller keeps as
    customer credit. All amounts are in one currency: the caller selects invoices of the payment's currency.
    """
    if amount_minor < 0:
        raise ValueError("cannot allocate a negative amount")
    rest = amount_minor
    out: list[Allocation] = []
    for invoice in invoices:
        if rest == 0:
            break
        applied = min(rest, invoice.balance_minor)
        if applied <= 0:
            continue
        rest -= applied
        out.append(Allocation(invoice.invoice_id, applied, invoice.balance_minor - applied))
    return out, rest
