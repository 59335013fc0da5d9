"""The bill run: a batch of due billing cycles closed in one transaction, with set operations.

`close_due` claims up to `bill_run_batch_size` due subscriptions FOR UPDATE SKIP LOCKED (any number of
runners claim disjoint batches) and hands them to `close_batch`, which issues exactly the invoices, lines,
usage periods, credit use and events that `usage.close_one` would issue for each of them in turn:

1. Reads what the batch needs with one statement each: plans, subscribers, customers, plan changes, dirty
   periods, the usage of every cycle window, the customers' credit (locked in key order first, before anything
   takes the number counter: every runner locks credit rows, then the counter, so two never deadlock).
2. A subscription the set path does not cover (a plan change or proration, late usage to re-bill, an end date,
   a row it refers to that is missing) is closed by `usage.close_one` inside a savepoint; if that fails it is
   postponed, as the per-subscription path does, without holding up the batch.
3. The others: lines and totals by the same rules (`usage.cycle_lines`, `amounts.totals`), customer credit used
   in claim order, then one block of invoice numbers per (tenant, year) taken from the gapless counter inside
   this transaction (a rollback gives the block back), then one multi-row insert per table (invoices, lines,
   usage periods, credit entries, applications, outbox) and one update each for credits and subscriptions.

Events per invoice come in the per-subscription order: InvoiceIssued, InvoicePaid (when credit or a zero total
settled it), UsageAggregated.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import bill_run_repo as repo
from billing.domain.amounts import Line, totals
from billing.domain.calendar import Period, billing_cycle, start_of_day
from billing.domain.numbering import Series, document_number
from billing.domain.usage import OverageCharge, overage_charge
from billing.service_layer import messages, usage
from billing.service_layer.deps import Deps, new_id
from bss_contracts import DomainEvent
from bss_contracts.events.billing import UsageAggregated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Close:
    """One subscription's cycle, as the set path closes it."""

    subscription: Row[Any]
    plan: Row[Any]
    subscriber: Row[Any]
    customer: Row[Any]
    tz: ZoneInfo
    cycle: Period

    @property
    def tenant_id(self) -> str:
        return str(self.subscription.tenant_id)


@dataclass
class IssuedInvoice:
    """The invoice row as the per-subscription path leaves it (the columns its events read)."""

    id: str
    tenant_id: str
    number: str | None
    customer_id: str
    subscriber_id: str
    subscription_id: str
    partner_id: str | None
    billing_country: str | None
    currency: str
    status: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    payment_terms_days: int
    subtotal_minor: int
    tax_minor: int
    total_minor: int
    balance_minor: int
    overdue_at: datetime
    issued_at: datetime
    paid_at: datetime | None

    def row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


async def close_due(deps: Deps, *, tenant_id: str | None = None, batch_size: int | None = None) -> int:
    """Close every cycle that may be closed by now (of one tenant, or all), `batch_size` subscriptions per
    transaction, then bill ended subscriptions' late usage one by one (`usage.close_due_one_by_one`); returns
    how many cycles (and late-usage bills) this call did."""
    size = batch_size or deps.bill_run_batch_size
    worked = 0
    while True:
        async with deps.database.transaction() as session:
            now = deps.clock.now()
            claimed = await repo.claim_due_subscriptions(session, now, size, tenant_id)
            if claimed:
                worked += await close_batch(session, deps, claimed, now)
        if len(claimed) < size:
            break
    return worked + await usage.close_due_one_by_one(deps, tenant_id=tenant_id)


async def close_batch(session: AsyncSession, deps: Deps, claimed: Sequence[Row[Any]], now: datetime) -> int:
    """Close the (locked) subscriptions' due cycles; returns how many were closed."""
    keys = [(s.tenant_id, s.id) for s in claimed]
    plans = await repo.plans_by_id(session, [(s.tenant_id, s.plan_id) for s in claimed])
    subscribers = await repo.subscribers_by_id(session, [(s.tenant_id, s.subscriber_id) for s in claimed])
    customers = await repo.customers_by_id(session, [(s.tenant_id, s.customer_id) for s in claimed])
    irregular = await repo.irregular(session, keys)
    closes: list[Close] = []
    one_by_one: list[Row[Any]] = []
    for sub in claimed:
        plan = plans.get((sub.tenant_id, sub.plan_id))
        subscriber = subscribers.get((sub.tenant_id, sub.subscriber_id))
        customer = customers.get((sub.tenant_id, sub.customer_id))
        if (
            (sub.tenant_id, sub.id) in irregular
            or sub.end_date is not None
            or plan is None
            or subscriber is None
            or customer is None
            or subscriber.customer_id != sub.customer_id
        ):
            one_by_one.append(sub)
            continue
        tz = deps.zone(customer.timezone)
        closes.append(Close(sub, plan, subscriber, customer, tz, billing_cycle(sub.start_date, sub.next_cycle)))
    # Lock order, for every runner: the batch's credit rows (sorted), then the number counter. The
    # per-subscription path takes the counter before the credit, so the credit is locked here first.
    await repo.lock_credits(session, [(s.tenant_id, s.customer_id, s.currency) for s in claimed])
    worked = 0
    for sub in one_by_one:  # first: they take their numbers one at a time, the block comes after them
        worked += await _close_in_savepoint(session, deps, sub, now)
    if closes:
        await _close_set(session, deps, closes, now)
    return worked + len(closes)


async def _close_in_savepoint(session: AsyncSession, deps: Deps, sub: Row[Any], now: datetime) -> int:
    try:
        async with session.begin_nested():
            await usage.close_one(session, deps, sub, now)
    except Exception:
        log.exception("closing a billing cycle failed; retrying later", extra={"subscription_id": sub.id})
        await usage.postpone(session, deps, sub)
        return 0
    return 1


async def _close_set(session: AsyncSession, deps: Deps, closes: list[Close], now: datetime) -> None:
    windows = [(c.tenant_id, c.subscriber.username, c.cycle.starts_at(c.tz), c.cycle.ends_at(c.tz)) for c in closes]
    used = await repo.usage_of_windows(session, windows)
    credit = await repo.lock_credits(session, [(c.tenant_id, c.subscription.customer_id, c.subscription.currency)
                                               for c in closes])  # fmt: skip
    drafts: list[tuple[Close, IssuedInvoice, list[Line], list[date | None], OverageCharge, tuple[int, int], int]] = []
    for c, (used_in, used_out) in zip(closes, used, strict=True):
        sub, plan = c.subscription, c.plan
        charge = overage_charge(
            used_in + used_out, plan.included_octets, plan.overage_price_per_gb_minor, plan.overage_increment_octets
        )
        lines, periods = usage.cycle_lines(plan, charge, c.cycle)
        sums = totals(lines, sub.currency)
        total = sums.total.amount_minor
        credit_key = (c.tenant_id, sub.customer_id, sub.currency)
        from_credit = min(credit.get(credit_key, 0), total)
        if from_credit > 0:
            credit[credit_key] -= from_credit
        issue_date = c.cycle.end  # the cycle's billing day, even when the run is late
        due_date = issue_date + timedelta(days=deps.payment_terms_days)
        balance = total - from_credit
        invoice = IssuedInvoice(
            id=new_id(), tenant_id=c.tenant_id, number=None, customer_id=sub.customer_id,
            subscriber_id=sub.subscriber_id, subscription_id=sub.id, partner_id=c.customer.partner_id,
            billing_country=c.customer.billing_country, currency=sub.currency,
            status="paid" if balance == 0 else "open", period_start=c.cycle.start, period_end=c.cycle.end,
            issue_date=issue_date, due_date=due_date, payment_terms_days=deps.payment_terms_days,
            subtotal_minor=sums.subtotal.amount_minor, tax_minor=sums.tax.amount_minor, total_minor=total,
            balance_minor=balance, overdue_at=start_of_day(due_date + timedelta(days=1), c.tz), issued_at=now,
            paid_at=now if balance == 0 else None,
        )  # fmt: skip
        drafts.append((c, invoice, lines, periods, charge, (used_in, used_out), from_credit))
    await _number(session, [d[1] for d in drafts])

    invoice_rows, line_rows, period_rows, entry_rows, application_rows = [], [], [], [], []
    used_credit: dict[tuple[str, str, str], int] = defaultdict(int)
    events: list[tuple[DomainEvent, str]] = []
    for c, invoice, lines, periods, charge, (used_in, used_out), from_credit in drafts:
        sub, tenant = c.subscription, c.tenant_id
        invoice_rows.append(invoice.row())
        line_rows += [
            {
                "tenant_id": tenant, "invoice_id": invoice.id, "position": i, "kind": line.kind,
                "description": line.description, "quantity": line.quantity, "unit_price_minor": line.unit_price_minor,
                "amount_minor": line.amount_minor, "tax_rate_bp": line.tax_rate_bp, "tax_minor": line.tax_minor,
                "usage_period_start": period,
            }
            for i, (line, period) in enumerate(zip(lines, periods, strict=True), start=1)
        ]  # fmt: skip
        events.append((messages.invoice_issued(invoice, lines, balance_minor=invoice.balance_minor), tenant))
        if from_credit > 0:
            used_credit[(tenant, sub.customer_id, sub.currency)] += from_credit
            entry_rows.append({
                "tenant_id": tenant, "customer_id": sub.customer_id, "currency": sub.currency,
                "amount_minor": -from_credit, "reason": "applied_to_invoice", "reference_id": invoice.id,
                "created_at": now,
            })  # fmt: skip
            application_rows.append({
                "tenant_id": tenant, "invoice_id": invoice.id, "source": "customer_credit", "source_id": invoice.id,
                "amount_minor": from_credit, "applied_at": now,
            })  # fmt: skip
        if invoice.status == "paid":
            events.append((messages.invoice_paid(invoice, now), tenant))
        period = {
            "tenant_id": tenant, "subscription_id": sub.id, "period_start": c.cycle.start,
            "period_end": c.cycle.end, "starts_at": c.cycle.starts_at(c.tz), "ends_at": c.cycle.ends_at(c.tz),
            "input_octets": used_in, "output_octets": used_out, "included_octets": c.plan.included_octets,
            "overage_octets": charge.overage_octets, "billed_minor": charge.amount_minor, "currency": sub.currency,
            "invoice_id": invoice.id, "closed_at": now,
        }  # fmt: skip
        period_rows.append(period)
        events.append((_aggregated(c, period, invoice.id, deps.clock.now()), tenant))

    await repo.insert_rows(session, "invoices", invoice_rows)
    await repo.insert_rows(session, "invoice_lines", line_rows)
    await repo.insert_rows(session, "usage_periods", period_rows)
    await repo.use_credits(session, [(*k, v) for k, v in sorted(used_credit.items())])
    await repo.insert_rows(session, "credit_entries", entry_rows)
    await repo.insert_rows(session, "applications", application_rows)
    await repo.advance_subscriptions(
        session,
        [
            (c.tenant_id, c.subscription.id, billing_cycle(c.subscription.start_date, c.subscription.next_cycle + 1)
             .ends_at(c.tz) + deps.close_grace)
            for c in closes
        ],
    )  # fmt: skip
    await deps.events.add_many(session, events)


async def _number(session: AsyncSession, issued: list[IssuedInvoice]) -> None:
    """Give the invoices their numbers in claim order: one block per (tenant, issue year), taken in key order."""
    groups: dict[tuple[str, int], list[IssuedInvoice]] = defaultdict(list)
    for invoice in issued:
        groups[(invoice.tenant_id, invoice.issue_date.year)].append(invoice)
    for (tenant, year), group in sorted(groups.items()):
        first = await repo.allocate_numbers(session, tenant, Series.INVOICE.value, year, len(group))
        for i, invoice in enumerate(group):
            invoice.number = document_number(Series.INVOICE, year, first + i)


def _aggregated(c: Close, period: dict[str, Any], invoice_id: str, at: datetime) -> UsageAggregated:
    sub = c.subscription
    return UsageAggregated(
        subscription_id=sub.id, subscriber_id=sub.subscriber_id, customer_id=sub.customer_id,
        username=c.subscriber.username, period_start=c.cycle.start, period_end=c.cycle.last_day,
        input_octets=period["input_octets"], output_octets=period["output_octets"],
        total_octets=period["input_octets"] + period["output_octets"], included_octets=period["included_octets"],
        overage_octets=period["overage_octets"], overage_amount_minor=period["billed_minor"],
        currency=period["currency"], final=True, invoice_id=invoice_id, aggregated_at=at,
    )  # fmt: skip
