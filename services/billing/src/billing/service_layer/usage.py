"""Usage billing: session counters in, overage billed when a cycle closes, late usage re-billed once.

- Every session event keeps the highest cumulative counters per (session, 15-minute bucket); redelivered and
  out-of-order interims change nothing. Usage of a period is computed from these samples when it is needed.
- Closing a cycle (worker, or POST /billing/usage/close; many at once in `bill_run.py`) issues its invoice:
  the plan fee, the overage beyond the allowance, and a `usage_adjustment` line for every earlier closed period
  whose usage changed since it was billed (a late event marks the periods it changes `dirty`). The adjustment
  is the period's corrected overage charge minus what was billed for it; billing it and recording the new
  billed amount happen in one transaction, so it is billed exactly once.
- A cycle's usage counters may be reset (the `usage.reset` bulk kind, `usage_resets`): its usage then counts
  from the reset on, wherever it is computed (closing, re-billing, the live view; the bill run closes such
  subscriptions one by one).
- A correction that would make an invoice negative waits for an invoice that absorbs it; an ended
  subscription's corrections are billed on an invoice of their own (or, when negative, as a credit note).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo as repo
from billing.domain.amounts import Line, line_with_amount, make_line, totals
from billing.domain.calendar import Period, billing_cycle, local_date, start_of_day
from billing.domain.usage import GB, OverageCharge, collapse_samples, overage_charge
from billing.service_layer import credit_notes, invoicing, revenue, subscriptions
from billing.service_layer.deps import Deps
from bss_contracts.events.billing import UsageAggregated
from bss_contracts.events.radius import SessionStarted, SessionStopped, SessionUpdated

SessionEvent = SessionStarted | SessionUpdated | SessionStopped
RETRY_AFTER = timedelta(minutes=15)
log = logging.getLogger(__name__)


async def record_sessions(session: AsyncSession, deps: Deps, events: Sequence[tuple[str, SessionEvent]]) -> None:
    """Record a batch of (tenant, session event) pairs as if one by one: the highest counters per (session,
    15-minute bucket) are the same whatever the order, so the batch collapses to one sample per bucket and one
    upsert; closed periods a grown sample changes are marked for re-billing with one statement."""
    if not events:
        return
    samples = collapse_samples(events)
    usernames = sorted({(tenant, s.username) for (tenant, _, _), s in samples.items()})
    subscriptions = await repo.subscriptions_of_usernames(session, usernames)
    grown = await repo.record_samples(session, samples)
    earliest: dict[str, datetime] = {}
    for tenant, username, bucket in grown:
        for subscription_id in subscriptions.get((tenant, username), ()):
            if subscription_id not in earliest or bucket < earliest[subscription_id]:
                earliest[subscription_id] = bucket
    if earliest:
        tenants = {sid: tenant for (tenant, _), sids in subscriptions.items() for sid in sids}
        await repo.mark_periods_dirty_from(session, [(tenants[s], s, b) for s, b in earliest.items()], deps.clock.now())


@dataclass(frozen=True)
class Context:
    """What closing needs to know about one (locked) subscription."""

    subscription: Row[Any]
    plan: Row[Any]
    subscriber: Row[Any]
    customer: Row[Any]

    @property
    def tenant_id(self) -> str:
        return str(self.subscription.tenant_id)


async def _context(session: AsyncSession, subscription: Row[Any]) -> Context:
    tenant_id = subscription.tenant_id
    plan = await repo.get_plan(session, tenant_id, subscription.plan_id)
    subscriber = await billing_repo.get_subscriber(session, tenant_id, subscription.subscriber_id)
    customer = await billing_repo.get_customer(session, tenant_id, subscription.customer_id)
    if plan is None or subscriber is None or customer is None:
        raise LookupError(f"subscription {subscription.id} refers to rows that are gone")
    return Context(subscription, plan, subscriber, customer)


async def close_due_one_by_one(deps: Deps, *, tenant_id: str | None = None) -> int:
    """Close every cycle that may be closed by now and bill late usage of ended subscriptions (of one tenant,
    or all), each in its own transaction, the subscription claimed FOR UPDATE SKIP LOCKED; returns how many
    cycles (and late-usage bills) this call did. The bill run (`bill_run.close_due`) closes active
    subscriptions' cycles in batches and uses this for ended subscriptions' late usage; it is also the reference
    the bill run is tested against."""
    worked = 0
    while True:
        claimed: Row[Any] | None = None
        try:
            async with deps.database.transaction() as session:
                now = deps.clock.now()
                claimed = await repo.claim_due_subscription(session, now, now - deps.close_grace, tenant_id)
                if claimed is None:
                    return worked
                await close_one(session, deps, claimed, now)
        except Exception:
            if claimed is None:
                raise
            # One subscription that cannot be billed (e.g. its customer is not known yet) must not hold up
            # the others: it is tried again later.
            log.exception("closing a billing cycle failed; retrying later", extra={"subscription_id": claimed.id})
            await _postpone(deps, claimed)
            continue
        worked += 1


async def close_one(session: AsyncSession, deps: Deps, claimed: Row[Any], now: datetime) -> None:
    """Close the (locked) subscription's due cycle, or bill an ended one's late usage, in `session`."""
    if claimed.status == "active":  # a downgrade due at the cycle end takes effect before it is billed
        claimed = await subscriptions.apply_due_changes_of(session, deps, claimed, now)
    ctx = await _context(session, claimed)
    if claimed.status == "active":
        await _close_cycle(session, deps, ctx)
    else:
        await _bill_late_usage(session, deps, ctx)


async def _postpone(deps: Deps, subscription: Row[Any]) -> None:
    async with deps.database.transaction() as session:
        await postpone(session, deps, subscription)


async def postpone(session: AsyncSession, deps: Deps, subscription: Row[Any]) -> None:
    """Try the subscription's close (or late-usage bill) again in RETRY_AFTER."""
    later = deps.clock.now() + RETRY_AFTER
    if subscription.status == "active":
        await repo.update_subscription(session, subscription.tenant_id, subscription.id, next_close_at=later)
    else:
        await repo.postpone_dirty_periods(session, subscription.tenant_id, subscription.id, later)


async def _close_cycle(session: AsyncSession, deps: Deps, ctx: Context) -> None:
    sub = ctx.subscription
    tz = deps.zone(ctx.customer.timezone)
    cycle = billing_cycle(sub.start_date, sub.next_cycle)
    starts_at, ends_at = cycle.starts_at(tz), cycle.ends_at(tz)
    # The cycle is billed on the plan it started with (its allowance too); a change at once inside it adds
    # its proration lines.
    plan = await revenue.plan_in_effect(session, sub, starts_at)
    counts_from = await repo.counted_from(session, ctx.tenant_id, sub.id, cycle.start, starts_at)
    used_in, used_out = await repo.usage_between(session, ctx.tenant_id, ctx.subscriber.username, counts_from, ends_at)
    charge = overage_charge(
        used_in + used_out, plan.included_octets, plan.overage_price_per_gb_minor, plan.overage_increment_octets
    )
    lines, periods = cycle_lines(plan, charge, cycle)
    prorations = await repo.unbilled_prorations(session, ctx.tenant_id, sub.id, cycle.start)
    for change in prorations:
        for line in await _proration_lines(session, ctx.tenant_id, change, cycle, tz):
            lines.append(line)
            periods.append(None)
    rebills = await _rebills(session, ctx)
    adjustments = [r for r in rebills if r.delta_minor != 0]
    adjustment_lines = [r.line(plan) for r in adjustments]
    if totals([*lines, *adjustment_lines], sub.currency).total.amount_minor < 0:
        rebills, adjustments, adjustment_lines = [], [], []  # wait for an invoice that can absorb them
    invoice = await invoicing.create_draft(
        session, deps, ctx.tenant_id, customer_id=sub.customer_id, currency=sub.currency,
        lines=[*lines, *adjustment_lines], subscriber_id=sub.subscriber_id, subscription_id=sub.id,
        period=(cycle.start, cycle.end), usage_period_starts=[*periods, *(r.period.period_start for r in adjustments)],
    )  # fmt: skip
    # Dated on the cycle's billing day even when the close runs later (after an outage, or catching up); a last
    # cycle cut short by a cancellation on a date is billed on its end date.
    billing_day = min(cycle.end, sub.end_date) if sub.end_date is not None else cycle.end
    invoice = await invoicing.issue_draft(session, deps, invoice, issue_date=billing_day)
    now = deps.clock.now()
    closed = await repo.insert_period(
        session,
        {
            "tenant_id": ctx.tenant_id, "subscription_id": sub.id, "period_start": cycle.start,
            "period_end": cycle.end, "starts_at": starts_at, "ends_at": ends_at, "input_octets": used_in,
            "output_octets": used_out, "included_octets": plan.included_octets,
            "overage_octets": charge.overage_octets, "billed_minor": charge.amount_minor, "currency": sub.currency,
            "invoice_id": invoice.id, "closed_at": now,
        },
    )  # fmt: skip
    await _aggregated(session, deps, ctx, closed, invoice.id)
    await _apply_rebills(session, deps, ctx, rebills, invoice.id)
    await repo.mark_prorations_billed(session, ctx.tenant_id, [c.id for c in prorations], invoice.id)
    following = billing_cycle(sub.start_date, sub.next_cycle + 1)
    if sub.end_date is not None and following.start >= sub.end_date:
        ended = await repo.update_subscription(
            session, ctx.tenant_id, sub.id, next_cycle=sub.next_cycle + 1, status="ended", next_close_at=None
        )
        await repo.supersede_scheduled_changes(session, ctx.tenant_id, sub.id)
        await revenue.record_history(session, deps, ended, live="ended")
    else:
        closes_at = following.ends_at(tz)
        if sub.end_date is not None:  # the last cycle closes once the end date has passed
            closes_at = min(closes_at, start_of_day(sub.end_date, tz))
        await repo.update_subscription(
            session, ctx.tenant_id, sub.id, next_cycle=sub.next_cycle + 1, next_close_at=closes_at + deps.close_grace
        )


async def _bill_late_usage(session: AsyncSession, deps: Deps, ctx: Context) -> None:
    """An ended subscription's corrections: an invoice of their own, or a credit note when they are negative."""
    sub, plan = ctx.subscription, ctx.plan
    rebills = await _rebills(session, ctx)
    adjustments = [r for r in rebills if r.delta_minor != 0]
    lines = [r.line(plan) for r in adjustments]
    invoice_id: str | None = None
    total = totals(lines, sub.currency).total.amount_minor
    if total > 0:
        invoice = await invoicing.create_draft(
            session, deps, ctx.tenant_id, customer_id=sub.customer_id, currency=sub.currency, lines=lines,
            subscriber_id=sub.subscriber_id, subscription_id=sub.id, memo="Usage reported after the last invoice",
            usage_period_starts=[r.period.period_start for r in adjustments],
        )  # fmt: skip
        invoice_id = (await invoicing.issue_draft(session, deps, invoice)).id
    elif total < 0:
        await credit_notes.issue_credit_note(
            session, deps, ctx.tenant_id,
            credit_notes.CreditNoteIn(amount_minor=-total, currency=sub.currency, customer_id=sub.customer_id,
                                      reason=f"Usage correction, subscription {sub.id}"),
        )  # fmt: skip
    await _apply_rebills(session, deps, ctx, rebills, invoice_id)


@dataclass(frozen=True)
class Rebill:
    period: Row[Any]
    used_in: int
    used_out: int
    charge: OverageCharge

    @property
    def delta_minor(self) -> int:
        return self.charge.amount_minor - int(self.period.billed_minor)

    def line(self, plan: Row[Any]) -> Line:
        span = _span(Period(self.period.period_start, self.period.period_end))
        before = Decimal(int(self.period.input_octets) + int(self.period.output_octets)) / GB
        now = Decimal(self.used_in + self.used_out) / GB
        return line_with_amount(
            "usage_adjustment", f"Usage reported late for {span}: {now:f} GB in total, {before:f} GB billed before",
            quantity=Decimal(1), unit_price_minor=self.delta_minor, amount_minor=self.delta_minor,
            tax_rate_bp=plan.tax_rate_bp,
        )  # fmt: skip


async def _rebills(session: AsyncSession, ctx: Context) -> list[Rebill]:
    out = []
    for period in await repo.dirty_periods(session, ctx.tenant_id, ctx.subscription.id):
        counts_from = await repo.counted_from(
            session, ctx.tenant_id, ctx.subscription.id, period.period_start, period.starts_at
        )
        used_in, used_out = await repo.usage_between(
            session, ctx.tenant_id, ctx.subscriber.username, counts_from, period.ends_at
        )
        charge = overage_charge(
            used_in + used_out, period.included_octets, ctx.plan.overage_price_per_gb_minor,
            ctx.plan.overage_increment_octets,
        )  # fmt: skip
        out.append(Rebill(period, used_in, used_out, charge))
    return out


async def _apply_rebills(
    session: AsyncSession, deps: Deps, ctx: Context, rebills: list[Rebill], invoice_id: str | None
) -> None:
    for r in rebills:
        unchanged = (r.used_in, r.used_out) == (r.period.input_octets, r.period.output_octets)
        updated = await repo.update_period(
            session, ctx.tenant_id, ctx.subscription.id, r.period.period_start, input_octets=r.used_in,
            output_octets=r.used_out, overage_octets=r.charge.overage_octets, billed_minor=r.charge.amount_minor,
            dirty_since=None,
        )  # fmt: skip
        if not unchanged:  # e.g. a late sample before a period's start that did not move its counters
            billed_on = invoice_id if invoice_id is not None and r.delta_minor != 0 else r.period.invoice_id
            await _aggregated(session, deps, ctx, updated, billed_on)


async def _aggregated(session: AsyncSession, deps: Deps, ctx: Context, period: Row[Any], invoice_id: str) -> None:
    event = UsageAggregated(
        subscription_id=ctx.subscription.id, subscriber_id=ctx.subscription.subscriber_id,
        customer_id=ctx.subscription.customer_id, username=ctx.subscriber.username,
        period_start=period.period_start, period_end=Period(period.period_start, period.period_end).last_day,
        input_octets=period.input_octets, output_octets=period.output_octets,
        total_octets=period.input_octets + period.output_octets, included_octets=period.included_octets,
        overage_octets=period.overage_octets, overage_amount_minor=period.billed_minor, currency=period.currency,
        final=True, invoice_id=invoice_id, aggregated_at=deps.clock.now(),
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=ctx.tenant_id)


async def _proration_lines(
    session: AsyncSession, tenant_id: str, change: Row[Any], cycle: Period, tz: ZoneInfo
) -> list[Line]:
    """The credit for the unused part of the old plan and the charge for the remaining part of the new one."""
    old = await repo.get_plan(session, tenant_id, change.from_plan_id)
    new = await repo.get_plan(session, tenant_id, change.to_plan_id)
    if old is None or new is None:
        raise LookupError(f"a plan of change {change.id} is gone")
    span = f"{local_date(change.effective_at, tz).isoformat()} to {cycle.last_day.isoformat()}"
    lines = []
    if change.proration_credit_minor:
        lines.append(
            line_with_amount(
                "proration", f"Unused {old.name}, {span} ({change.proration_rule})", quantity=Decimal(1),
                unit_price_minor=-change.proration_credit_minor, amount_minor=-change.proration_credit_minor,
                tax_rate_bp=old.tax_rate_bp,
            )
        )  # fmt: skip
    if change.proration_charge_minor:
        lines.append(
            line_with_amount(
                "proration", f"{new.name}, {span} ({change.proration_rule})", quantity=Decimal(1),
                unit_price_minor=change.proration_charge_minor, amount_minor=change.proration_charge_minor,
                tax_rate_bp=new.tax_rate_bp,
            )
        )  # fmt: skip
    return lines


def cycle_lines(plan: Row[Any], charge: OverageCharge, cycle: Period) -> tuple[list[Line], list[date | None]]:
    """A cycle's own lines, the fee and (when over the allowance) the overage, and the usage period each bills."""
    lines = [
        make_line(
            "subscription",
            f"{plan.name}, {_span(cycle)}",
            quantity=Decimal(1),
            unit_price_minor=plan.price_minor,
            tax_rate_bp=plan.tax_rate_bp,
        ),
    ]
    periods: list[date | None] = [None]
    if charge.amount_minor > 0:
        lines.append(_overage_line(plan, charge, cycle))
        periods.append(cycle.start)
    return lines, periods


def _overage_line(plan: Row[Any], charge: OverageCharge, cycle: Period) -> Line:
    allowance = Decimal(plan.included_octets) / GB
    over = Decimal(charge.overage_octets) / GB
    return line_with_amount(
        "usage_overage",
        f"Data beyond the {allowance:f} GB allowance, {_span(cycle)}: {over:f} GB, billed {charge.billed_gb:f} GB",
        quantity=charge.billed_gb, unit_price_minor=plan.overage_price_per_gb_minor, amount_minor=charge.amount_minor,
        tax_rate_bp=plan.tax_rate_bp,
    )  # fmt: skip


def _span(period: Period) -> str:
    return f"{period.start.isoformat()} to {period.last_day.isoformat()}"


@dataclass(frozen=True)
class LiveUsage:
    period: Period
    input_octets: int
    output_octets: int
    included_octets: int | None
    charge: OverageCharge


async def current_usage(session: AsyncSession, deps: Deps, subscription: Row[Any], at: datetime) -> LiveUsage:
    """Usage of the cycle that is not closed yet, as of now (not final: late events may still come)."""
    ctx = await _context(session, subscription)
    tz = deps.zone(ctx.customer.timezone)
    cycle = billing_cycle(subscription.start_date, subscription.next_cycle)
    counts_from = await repo.counted_from(session, ctx.tenant_id, subscription.id, cycle.start, cycle.starts_at(tz))
    used_in, used_out = await repo.usage_between(
        session, ctx.tenant_id, ctx.subscriber.username, counts_from, min(cycle.ends_at(tz), at)
    )
    charge = overage_charge(
        used_in + used_out, ctx.plan.included_octets, ctx.plan.overage_price_per_gb_minor,
        ctx.plan.overage_increment_octets,
    )  # fmt: skip
    return LiveUsage(cycle, used_in, used_out, ctx.plan.included_octets, charge)
