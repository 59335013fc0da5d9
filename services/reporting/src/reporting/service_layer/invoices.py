"""Invoices into the read model: one row per invoice with its open balance, and every balance movement.

The balance follows billing's events. Payments and credit notes carry the invoice's balance afterwards when
billing knows it (then we take it as is); otherwise the applied amount is subtracted. Each change is also
kept as a movement dated when it took effect, which is what aging as of a past date reads.

The live path applies each run of consecutive invoice-topic events (InvoiceIssued and the balance events:
InvoiceOverdue/Paid/Voided, PaymentReceived, CreditNoteIssued) at once, `invoice_events`: one locking read of
the run's invoices, the new invoices inserted, the balance events folded in memory in their order with the
same rules as the one-event functions below (`invoice_overdue`, ..., `_set_balance`: the reference,
`domain/invoice_balances.py`), then one update, one movement insert and the aging rollup's net change: a fixed
number of statements per batch (14 at most), whatever its size.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import billing as ev
from reporting.adapters.tables import ReadModel
from reporting.domain.invoice_balances import BalanceChange, BalanceEvent, Movement, change_of, fold_balances
from reporting.service_layer.aging import aging_follows_all
from reporting.service_layer.customer_balances import customer_balances_follow

log = logging.getLogger(__name__)


async def invoices_issued(
    session: AsyncSession, rm: ReadModel, issued: Sequence[tuple[str, UUID, ev.InvoiceIssued]]
) -> None:
    """InvoiceIssued events of a batch, as if one by one: the first event of an invoice creates its row (the
    customer's partner and country where the invoice names none) and its opening movement; the aging rollup
    follows every invoice of the batch at once."""
    first = _first_issued(issued)
    async with invoices_change(session, rm, sorted(first)):
        await _issue(session, rm, first)


@asynccontextmanager
async def invoices_change(
    session: AsyncSession, rm: ReadModel, invoices: Sequence[tuple[str, str]]
) -> AsyncIterator[None]:
    """Wrap a change of invoices' balances: the aging rollup and the customers' balances follow it."""
    async with aging_follows_all(session, rm, invoices), customer_balances_follow(session, rm, invoices):
        yield


def _first_issued(
    issued: Sequence[tuple[str, UUID, ev.InvoiceIssued]],
) -> dict[tuple[str, str], tuple[UUID, ev.InvoiceIssued]]:
    first: dict[tuple[str, str], tuple[UUID, ev.InvoiceIssued]] = {}
    for tenant, event_id, data in issued:
        first.setdefault((tenant, data.invoice_id), (event_id, data))
    return first


async def _issue(
    session: AsyncSession, rm: ReadModel, first: dict[tuple[str, str], tuple[UUID, ev.InvoiceIssued]]
) -> set[tuple[str, str]]:
    """Insert the invoices of `first` not known yet and their opening movements; returns those inserted."""
    keys = sorted(first)
    customers = await _customers_of(session, rm, sorted({(t, d.customer_id) for (t, _), (_, d) in first.items()}))
    rows = []
    for key in keys:
        tenant, (_, data) = key[0], first[key]
        partner, country = customers.get((tenant, data.customer_id), (None, None))
        rows.append((tenant, data, data.partner_id or partner, data.billing_country or country))
    inserted = await _insert_invoices(session, rm, rows)
    movements = [
        (
            tenant,
            event_id,
            data.invoice_id,
            datetime.combine(data.issue_date, time(), tzinfo=UTC),
            data.balance_minor,
        )
        for (tenant, invoice_id), (event_id, data) in first.items()
        if (tenant, invoice_id) in inserted and data.balance_minor
    ]  # the invoice is owed from its issue date (the business date aging compares with)
    if movements:
        await session.execute(
            text(
                f"""
                INSERT INTO "{rm.schema}".invoice_movements
                    (tenant_id, movement_id, invoice_id, kind, effective_at, delta_minor)
                SELECT t, m, i, 'issued', e, d FROM unnest(CAST(:t AS text[]), CAST(:m AS uuid[]),
                    CAST(:i AS text[]), CAST(:e AS timestamptz[]), CAST(:d AS bigint[])) AS u(t, m, i, e, d)
                ON CONFLICT DO NOTHING
                """
            ),
            {k: [row[n] for row in movements] for n, k in enumerate(("t", "m", "i", "e", "d"))},
        )
    return inserted


async def _customers_of(
    session: AsyncSession, rm: ReadModel, customers: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    found = await session.execute(
        text(
            f"""
            SELECT c.tenant_id, c.customer_id, c.partner_id, c.billing_country
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, customer_id)
            JOIN "{rm.schema}".customers c USING (tenant_id, customer_id)
            """
        ),
        {"tenants": [t for t, _ in customers], "ids": [c for _, c in customers]},
    )
    return {(r[0], r[1]): (r[2], r[3]) for r in found.all()}


_INVOICE_COLUMNS = {
    "tenant_id": "text", "invoice_id": "text", "invoice_number": "text", "customer_id": "text",
    "subscriber_id": "text", "invoice_partner_id": "text", "invoice_billing_country": "text", "partner_id": "text",
    "billing_country": "text", "currency": "text", "issue_date": "date", "due_date": "date", "total_minor": "bigint",
    "balance_minor": "bigint", "status": "text", "issued_at": "timestamptz",
}  # fmt: skip


async def _insert_invoices(
    session: AsyncSession, rm: ReadModel, rows: Sequence[tuple[str, ev.InvoiceIssued, str | None, str | None]]
) -> set[tuple[str, str]]:
    """Insert invoices not known yet; returns (tenant, invoice id) of those inserted."""
    values: dict[str, list[Any]] = {name: [] for name in _INVOICE_COLUMNS}
    for tenant, d, partner, country in rows:
        for name, value in (
            ("tenant_id", tenant), ("invoice_id", d.invoice_id), ("invoice_number", d.invoice_number),
            ("customer_id", d.customer_id), ("subscriber_id", d.subscriber_id), ("invoice_partner_id", d.partner_id),
            ("invoice_billing_country", d.billing_country), ("partner_id", partner), ("billing_country", country),
            ("currency", d.currency), ("issue_date", d.issue_date), ("due_date", d.due_date),
            ("total_minor", d.total_minor), ("balance_minor", d.balance_minor), ("status", "open"),
            ("issued_at", d.issued_at),
        ):  # fmt: skip
            values[name].append(value)
    arrays = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in _INVOICE_COLUMNS.items())
    inserted = await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".invoices ({", ".join(_INVOICE_COLUMNS)})
            SELECT * FROM unnest({arrays})
            ON CONFLICT DO NOTHING
            RETURNING tenant_id, invoice_id
            """
        ),
        values,
    )
    return {(r[0], r[1]) for r in inserted.all()}


async def invoice_overdue(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceOverdue
) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "overdue", data.detected_at, lambda _: data.balance_minor,
        {"overdue_at": data.detected_at, "status": "overdue"},
    )  # fmt: skip


async def invoice_paid(session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoicePaid) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "paid", data.paid_at, lambda _: 0,
        {"paid_at": data.paid_at, "status": "paid"},
    )  # fmt: skip


async def invoice_voided(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.InvoiceVoided
) -> None:
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "voided", data.voided_at, lambda _: 0,
        {"voided_at": data.voided_at, "status": "voided"},
    )  # fmt: skip


async def payment_received(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.PaymentReceived
) -> None:
    if data.invoice_id is None or (data.applied_minor == 0 and data.invoice_balance_minor is None):
        return  # unapplied customer credit: not an invoice's balance
    after = data.invoice_balance_minor
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "payment", data.received_at,
        lambda balance: after if after is not None else balance - data.applied_minor,
    )  # fmt: skip


async def credit_note_issued(
    session: AsyncSession, rm: ReadModel, tenant: str, event_id: UUID, data: ev.CreditNoteIssued
) -> None:
    if data.invoice_id is None or (data.applied_minor == 0 and data.invoice_balance_minor is None):
        return
    after = data.invoice_balance_minor
    await _set_balance(
        session, rm, tenant, event_id, data.invoice_id, "credit_note", data.issued_at,
        lambda balance: after if after is not None else balance - data.applied_minor,
    )  # fmt: skip


ONE_BY_ONE: dict[type[Any], Callable[[AsyncSession, ReadModel, str, UUID, Any], Awaitable[None]]] = {
    ev.InvoiceOverdue: invoice_overdue,
    ev.InvoicePaid: invoice_paid,
    ev.InvoiceVoided: invoice_voided,
    ev.PaymentReceived: payment_received,
    ev.CreditNoteIssued: credit_note_issued,
}  # the balance events and their one-event functions (the reference `balance_events` equals)


async def _set_balance(
    session: AsyncSession,
    rm: ReadModel,
    tenant: str,
    event_id: UUID,
    invoice_id: str,
    kind: str,
    effective_at: datetime,
    new_balance: Callable[[int], int],
    extra: dict[str, Any] | None = None,
) -> None:
    i = rm.invoices
    balance = await session.scalar(
        select(i.c.balance_minor).where(i.c.tenant_id == tenant, i.c.invoice_id == invoice_id).with_for_update()
    )
    if balance is None:
        # Events of one invoice arrive in order, so its InvoiceIssued came first; if it never came there is
        # no invoice to move (billing's contract guarantees the order; we log rather than invent a row).
        log.warning("balance event for an unknown invoice", extra={"invoice_id": invoice_id, "kind": kind})
        return
    after = new_balance(balance)
    values = dict(extra or {}) | {"balance_minor": after}
    async with invoices_change(session, rm, [(tenant, invoice_id)]):
        await session.execute(update(i).where(i.c.tenant_id == tenant, i.c.invoice_id == invoice_id).values(**values))
        if after != balance:
            await _record_movement(session, rm, tenant, event_id, invoice_id, kind, effective_at, after - balance)


async def _record_movement(
    session: AsyncSession,
    rm: ReadModel,
    tenant: str,
    event_id: UUID,
    invoice_id: str,
    kind: str,
    effective_at: datetime,
    delta: int,
) -> None:
    await session.execute(
        insert(rm.invoice_movements)
        .values(
            tenant_id=tenant,
            movement_id=event_id,
            invoice_id=invoice_id,
            kind=kind,
            effective_at=effective_at,
            delta_minor=delta,
        )
        .on_conflict_do_nothing()
    )


async def invoice_events(
    session: AsyncSession, rm: ReadModel, events: Sequence[tuple[str, UUID, ev.InvoiceIssued | BalanceEvent]]
) -> None:
    """A run of invoice-topic events (InvoiceIssued and the balance events, any tenants and invoices), with the
    result of applying them one by one in their order: the same rows, balances, statuses, timestamps, movements
    and aging rollup. A balance event moves an invoice known before the batch, or one whose InvoiceIssued came
    earlier in it; otherwise it moves nothing, as one by one (the invoice did not exist yet)."""
    issued = [(t, i, d) for t, i, d in events if isinstance(d, ev.InvoiceIssued)]
    changes: list[tuple[int, BalanceChange]] = []
    for position, (tenant, event_id, data) in enumerate(events):
        if not isinstance(data, ev.InvoiceIssued) and (change := change_of(tenant, event_id, data)) is not None:
            changes.append((position, change))
    first = _first_issued(issued)
    wanted = sorted({(c.tenant_id, c.invoice_id) for _, c in changes} | set(first))
    if not wanted:
        return
    balances = await _lock_balances(session, rm, wanted)
    created_at: dict[tuple[str, str], int] = {}  # invoice created in this batch -> position of its first InvoiceIssued
    for position, (tenant, _, data) in enumerate(events):
        if isinstance(data, ev.InvoiceIssued):
            created_at.setdefault((tenant, data.invoice_id), position)
    existing = set(balances)
    async with invoices_change(session, rm, wanted):
        for key in await _issue(session, rm, first) if first else ():
            balances[key] = first[key][1].balance_minor
        applicable = []
        for position, c in changes:
            key = (c.tenant_id, c.invoice_id)
            if key in existing or (key in balances and position > created_at[key]):
                applicable.append(c)
            else:
                log.warning("balance event for an unknown invoice", extra={"invoice_id": c.invoice_id, "kind": c.kind})
        await _apply_changes(session, rm, balances, applicable)


async def _lock_balances(
    session: AsyncSession, rm: ReadModel, wanted: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The balances of the invoices of `wanted` that exist, their rows locked (in key order: fewer lock waits)."""
    found = await session.execute(
        text(
            f"""
            SELECT i.tenant_id, i.invoice_id, i.balance_minor
            FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[])) AS k(tenant_id, invoice_id)
            JOIN "{rm.schema}".invoices i USING (tenant_id, invoice_id)
            ORDER BY i.tenant_id, i.invoice_id
            FOR UPDATE OF i
            """
        ),
        {"tenants": [t for t, _ in wanted], "ids": [i for _, i in wanted]},
    )
    return {(r[0], r[1]): r[2] for r in found.all()}


async def _apply_changes(
    session: AsyncSession, rm: ReadModel, balances: dict[tuple[str, str], int], changes: Sequence[BalanceChange]
) -> None:
    """Fold `changes` over `balances` and write the result: one update of the invoices, one insert of movements
    (the caller has the aging rollup follow)."""
    states, movements = fold_balances(balances, changes)
    if not states:
        return
    keys = sorted(states)
    await session.execute(
        text(
            f"""
            UPDATE "{rm.schema}".invoices i SET
                balance_minor = u.balance, status = coalesce(u.status, i.status),
                overdue_at = coalesce(u.overdue_at, i.overdue_at), paid_at = coalesce(u.paid_at, i.paid_at),
                voided_at = coalesce(u.voided_at, i.voided_at)
            FROM unnest(CAST(:t AS text[]), CAST(:i AS text[]), CAST(:b AS bigint[]), CAST(:s AS text[]),
                CAST(:o AS timestamptz[]), CAST(:p AS timestamptz[]), CAST(:v AS timestamptz[]))
                AS u(tenant_id, invoice_id, balance, status, overdue_at, paid_at, voided_at)
            WHERE i.tenant_id = u.tenant_id AND i.invoice_id = u.invoice_id
            """
        ),
        {
            "t": [t for t, _ in keys],
            "i": [i for _, i in keys],
            "b": [states[k].balance_minor for k in keys],
            "s": [states[k].status for k in keys],
            "o": [states[k].overdue_at for k in keys],
            "p": [states[k].paid_at for k in keys],
            "v": [states[k].voided_at for k in keys],
        },
    )
    if movements:
        await _record_movements(session, rm, movements)


async def _record_movements(session: AsyncSession, rm: ReadModel, movements: Sequence[Movement]) -> None:
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".invoice_movements
                (tenant_id, movement_id, invoice_id, kind, effective_at, delta_minor)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:m AS uuid[]), CAST(:i AS text[]), CAST(:k AS text[]),
                CAST(:e AS timestamptz[]), CAST(:d AS bigint[]))
            ON CONFLICT DO NOTHING
            """
        ),
        {
            "t": [m.tenant_id for m in movements],
            "m": [m.event_id for m in movements],
            "i": [m.invoice_id for m in movements],
            "k": [m.kind for m in movements],
            "e": [m.effective_at for m in movements],
            "d": [m.delta_minor for m in movements],
        },
    )
