"""What a customer owes, per currency: the sum of its invoices' contributions (the blocked-customers report).

An invoice with a positive balance adds 1 open invoice, its balance, and 1 overdue invoice if billing declared it
overdue (InvoiceOverdue set `overdue_at`); an invoice owing nothing adds nothing. These are the sums the report
used to compute from `invoices` at request time (`balance_minor > 0`, grouped by customer and currency).

The read model keeps the sums by net change: when invoices change, each one's contribution before and after is
taken and the difference added, so that concurrent batches touching one customer commute and the sums equal the
ones over `invoices` whatever the order or batching of events. Whether an overdue invoice counts as overdue at
the report's `now` (`overdue_at <= now`) is the report's question: it subtracts the few open invoices declared
overdue later than its `now`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple


class BalanceKey(NamedTuple):
    tenant_id: str
    customer_id: str
    currency: str


class Owed(NamedTuple):
    """A contribution, or a sum of them: open invoices, overdue invoices, balance in minor units."""

    open_invoices: int
    overdue_invoices: int
    balance_minor: int


NOTHING = Owed(0, 0, 0)


def owed(balance_minor: int, overdue_at: datetime | None) -> Owed:
    """One invoice's contribution to its customer's sums."""
    if balance_minor <= 0:
        return NOTHING
    return Owed(1, int(overdue_at is not None), balance_minor)


def net_changes(
    before: Iterable[tuple[BalanceKey, Owed]], after: Iterable[tuple[BalanceKey, Owed]]
) -> dict[BalanceKey, Owed]:
    """What to add to each customer's sums when invoices went from `before` to `after` (one pair per invoice
    and side); keys whose sums do not move are left out."""
    changes: dict[BalanceKey, list[int]] = {}
    for sign, side in ((-1, before), (1, after)):
        for key, contribution in side:
            change = changes.setdefault(key, [0, 0, 0])
            for n, value in enumerate(contribution):
                change[n] += sign * value
    return {key: Owed(*change) for key, change in sorted(changes.items()) if change != [0, 0, 0]}
