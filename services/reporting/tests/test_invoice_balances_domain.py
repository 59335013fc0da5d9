"""`domain/invoice_balances`: what each balance event does to its invoice, folded over a batch (plain pytest)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from reporting.domain.invoice_balances import InvoiceState, change_of, fold_balances

from .reporting_support import credit_note, overdue, paid, payment, voided

T = datetime(2026, 11, 2, 9, tzinfo=UTC)
DUE = date(2026, 10, 20)


def test_each_event_type_and_the_order_they_come_in() -> None:
    ids = [uuid.uuid4() for _ in range(6)]
    events = [
        payment("i1", "c1", 300, T),  # subtracts what it applied
        overdue("i1", "c1", 650, DUE, T + timedelta(hours=1)),  # sets the balance billing states
        credit_note("i1", "c1", 50, T + timedelta(hours=2)),
        payment("i1", "c1", 100, T + timedelta(hours=3), balance_after=450),  # billing's balance wins over 600-100
        paid("i2", "c1", 900, T + timedelta(hours=4)),
        voided("i3", "c1", 70, T + timedelta(hours=5)),  # unknown invoice: moves nothing
    ]
    changes = [change_of("t", i, e) for i, e in zip(ids, events, strict=True)]
    states, movements = fold_balances({("t", "i1"): 1000, ("t", "i2"): 900}, [c for c in changes if c])
    assert states == {
        ("t", "i1"): InvoiceState(450, status="overdue", overdue_at=T + timedelta(hours=1)),
        ("t", "i2"): InvoiceState(0, status="paid", paid_at=T + timedelta(hours=4)),
    }
    assert [(m.event_id, m.kind, m.delta_minor) for m in movements] == [
        (ids[0], "payment", -300),
        (ids[1], "overdue", -50),
        (ids[2], "credit_note", -50),
        (ids[3], "payment", -150),
        (ids[4], "paid", -900),
    ]


def test_no_movement_when_the_balance_stays_and_no_change_without_an_invoice() -> None:
    event_id = uuid.uuid4()
    same = change_of("t", event_id, overdue("i1", "c1", 500, DUE, T))
    assert same is not None
    states, movements = fold_balances({("t", "i1"): 500}, [same])
    assert states == {("t", "i1"): InvoiceState(500, status="overdue", overdue_at=T)} and movements == []
    unapplied = payment("i1", "c1", 5, T).model_copy(update={"applied_minor": 0})
    assert change_of("t", event_id, unapplied) is None  # applies nothing, states no balance: customer credit
    assert change_of("t", event_id, payment("i1", "c1", 5, T).model_copy(update={"invoice_id": None})) is None
