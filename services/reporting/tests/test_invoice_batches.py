"""Invoice balance events applied a batch at a time give exactly what applying them one by one gives.

The reference is the one-event path (`service_layer/invoices.py` `invoice_overdue`, ..., `_set_balance`, each in
its own transaction); the batch path is `balance_events` behind `on_batch`. Both run through `EventRoutes` on
PostgreSQL with every other handler as in the service, and every read-model table must be equal row for row
(`rebuild.compare`): invoices (balances, statuses, timestamps), invoice_movements, aging_balances, aging_changes,
customer_balances; and on both sides customer_balances must equal the sums over the invoices it replaces.

Streams (hypothesis): invoices of two tenants (partners, countries, currencies, due dates), customers arriving
before or after their invoices, and balance events of every type on them: several on one invoice in one batch,
a payment before its invoice (dropped by both paths), payments with and without the balance afterwards, applying
nothing or naming no invoice, events spread over days (aging moves by UTC day), the same event sent twice, random
batch boundaries and redelivered batches (a batch that starts with events applied already).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_contracts.events import billing
from bss_runtime.consumer import EventRoutes
from bss_runtime.db import Database
from reporting.adapters.tables import ReadModel
from reporting.service_layer.rebuild import compare

from .reporting_support import credit_note, customer, empty_read_model, invoice, overdue, paid, payment, voided

T0 = datetime(2026, 10, 30, 20, tzinfo=UTC)
TENANTS = ("isp-a", "isp-b")
KINDS = ("issued", "overdue", "paid", "voided", "payment", "payment_after", "payment_none", "credit", "customer")

step = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(TENANTS),
    st.integers(0, 3),  # invoice (and customer) number
    st.integers(0, 6000),  # an amount
    st.integers(0, 4 * 24 * 60),  # minutes after T0 (over several UTC days)
)


def build_event(kind: str, tenant: str, n: int, amount: int, minute: int) -> DomainEvent:
    del tenant  # the envelope carries it
    invoice_id, customer_id = f"inv-{n}", f"cust-{n % 3}"
    when = T0 + timedelta(minutes=minute)
    due = date(2026, 10, 20) + timedelta(days=n * 9)
    currency = "EUR" if n % 2 else "USD"
    match kind:
        case "issued":
            return invoice(
                invoice_id, customer_id, amount + 1, due=due, currency=currency,
                partner_id="p-1" if n == 3 else None, country="DE" if n == 2 else None,
            )  # fmt: skip
        case "overdue":
            return overdue(invoice_id, customer_id, amount, due, when, currency)
        case "paid":
            return paid(invoice_id, customer_id, amount, when, currency)
        case "voided":
            return voided(invoice_id, customer_id, amount, when, currency)
        case "payment":  # applies part of it (possibly nothing, possibly more than the balance)
            return pay(invoice_id, amount % 3000, when, None, currency)
        case "payment_after":  # billing says the balance afterwards (possibly negative: overpaid)
            return pay(invoice_id, amount % 3000 + 1, when, amount - 3000, currency)
        case "payment_none":  # names no invoice: customer credit, no balance moves
            return pay(None, amount % 5, when, None, currency)
        case "credit":
            return credit_note(invoice_id, customer_id, amount % 2000 + 1, when, currency)
        case "customer":
            return customer(
                f"cust-{n % 3}", f"Customer {n}", partner_id=f"p-{amount % 2}", billing_country="FR",
                updated_at=when,
            )  # fmt: skip
    raise AssertionError(kind)


def pay(invoice_id: str | None, applied: int, when: datetime, after: int | None, currency: str) -> DomainEvent:
    return billing.PaymentReceived(
        payment_id=f"pay-{applied}", customer_id="cust-1", invoice_id=invoice_id, amount_minor=applied + 1,
        applied_minor=applied, unapplied_minor=1, currency=currency, invoice_balance_minor=after, received_at=when,
    )  # fmt: skip


class Models:
    def __init__(self, database: Database, one: tuple[ReadModel, EventRoutes], batched: tuple[ReadModel, EventRoutes]):
        self.database, self.one, self.batched = database, one, batched

    async def reset(self) -> None:
        async with self.database.engine.begin() as conn:
            for rm, _ in (self.one, self.batched):
                names = ", ".join(f'"{rm.schema}"."{t.name}"' for t in (*rm.model_tables, rm.runtime.processed_events))
                await conn.execute(text(f"TRUNCATE {names}"))


@pytest.fixture
async def models(fresh_database: Any) -> AsyncIterator[Models]:
    database = Database(await fresh_database("reporting_invoice_batches"), pool_size=2)
    one = await empty_read_model(database, "one_by_one", balance_batches=False)
    batched = await empty_read_model(database, "batched")
    yield Models(database, one, batched)
    await database.close()


async def apply_both(
    models: Models, envelopes: list[Envelope[Any]], cuts: list[int], redeliveries: list[int]
) -> dict[str, tuple[int, int]]:
    await models.reset()
    db = models.database
    for envelope in envelopes:
        async with db.transaction() as session:
            await models.one[1].apply(session, [envelope])
    bounds = sorted({0, len(envelopes), *(c for c in cuts if c < len(envelopes))})
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        back = redeliveries[n % len(redeliveries)] if redeliveries else 0
        chunk = envelopes[max(0, lo - back) : hi]  # a redelivered batch starts with events applied already
        async with db.transaction() as session:
            outcomes = await models.batched[1].apply(session, chunk)
        assert outcomes.count("processed") == len({e.id for e in envelopes[lo:hi]} - {e.id for e in envelopes[:lo]})
    async with db.engine.connect() as conn:
        for rm, _ in (models.one, models.batched):
            assert await customer_balances(conn, rm.schema) == await sums_over_invoices(conn, rm.schema)
        return await compare(conn, models.one[0], models.batched[0])


async def customer_balances(conn: Any, schema: str) -> list[tuple[Any, ...]]:
    rows = await conn.execute(text(f"SELECT * FROM {schema}.customer_balances ORDER BY 1, 2, 3"))
    return [tuple(r) for r in rows]


async def sums_over_invoices(conn: Any, schema: str) -> list[tuple[Any, ...]]:
    """What the blocked-customers report summed at request time before the customer_balances read model."""
    rows = await conn.execute(
        text(
            f"""SELECT tenant_id, customer_id, currency, CASE currency WHEN 'JPY' THEN 0 ELSE 2 END, count(*),
                       count(*) FILTER (WHERE overdue_at IS NOT NULL), sum(balance_minor)
                FROM {schema}.invoices WHERE balance_minor > 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        )
    )
    return [tuple(r) for r in rows]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    steps=st.lists(step, min_size=1, max_size=45),
    twice=st.lists(st.integers(0, 44), max_size=4),
    cuts=st.lists(st.integers(1, 50), max_size=6),
    redeliveries=st.lists(st.integers(0, 8), max_size=4),
)
async def test_batches_equal_one_event_per_transaction(
    models: Models, steps: list[tuple[str, str, int, int, int]], twice: list[int], cuts: list[int],
    redeliveries: list[int],
) -> None:  # fmt: skip
    envelopes = [Envelope.wrap(build_event(*s), source="/tests", tenant_id=s[1]) for s in steps]
    for i in sorted(twice, reverse=True):  # the same event (same id) sent again right after itself
        if i < len(envelopes):
            envelopes.insert(i + 1, envelopes[i])
    assert await apply_both(models, envelopes, cuts, redeliveries) == {}


async def test_many_events_of_one_invoice_in_one_batch(models: Models) -> None:
    """A worked case with known figures: the batch path's invoice, movements and aging are the expected ones."""
    t = "isp-a"
    due = date(2026, 10, 25)
    events: list[DomainEvent] = [
        invoice("inv-1", "cust-1", 10_000, due=due),
        payment("inv-9", "cust-1", 500, T0),  # before its invoice: nothing to move
        invoice("inv-9", "cust-1", 2_000, due=due),
        payment("inv-1", "cust-1", 3_000, T0),
        overdue("inv-1", "cust-1", 7_000, due, T0 + timedelta(hours=5)),  # the next UTC day
        credit_note("inv-1", "cust-1", 1_000, T0 + timedelta(days=1)),
        payment("inv-1", "cust-1", 2_500, T0 + timedelta(days=2), balance_after=3_500),
        paid("inv-9", "cust-1", 2_000, T0 + timedelta(days=2)),
        voided("inv-1", "cust-1", 3_500, T0 + timedelta(days=3)),
    ]
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=t) for e in events]
    assert await apply_both(models, envelopes, [3], [0]) == {}
    schema = models.batched[0].schema
    async with models.database.engine.connect() as conn:
        columns = "balance_minor, status, overdue_at, voided_at"
        row = (await conn.execute(text(f"SELECT {columns} FROM {schema}.invoices WHERE invoice_id = 'inv-1'"))).one()
        deltas = (
            await conn.execute(
                text(
                    f"SELECT kind, delta_minor FROM {schema}.invoice_movements WHERE invoice_id = 'inv-1' "
                    "ORDER BY effective_at, kind"
                )
            )
        ).all()
        rollup = (await conn.execute(text(f"SELECT balance_minor, invoice_count FROM {schema}.aging_balances"))).all()
    assert tuple(row) == (0, "voided", T0 + timedelta(hours=5), T0 + timedelta(days=3))
    assert [tuple(d) for d in deltas] == [
        ("issued", 10_000),
        ("payment", -3_000),
        ("credit_note", -1_000),
        ("payment", -2_500),
        ("voided", -3_500),
    ]  # fmt: skip  (the overdue event carried the balance it already had: no movement)
    assert rollup == []  # both invoices are settled: nothing owed, no rollup row left
