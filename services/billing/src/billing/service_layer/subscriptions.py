"""Plans, subscriptions and plan changes.

A plan is immutable once created (its price is what existing subscriptions are billed); retire it to stop
selling it. A subscription bills one subscriber on a monthly cycle anchored on its start date; every start,
cancellation, end and plan change is written as an event with the change (`billing.service_layer.revenue`).

A plan change (`change_plan`) takes effect at once (default for an upgrade: a higher monthly amount) or at
the end of the current cycle (default for a downgrade). At once: the subscription moves to the new plan now,
and the invoice of the cycle it falls in, which bills the cycle's first plan in full, also credits the unused
part of the old plan and charges the remaining part of the new one (`billing.domain.revenue.prorate`). At the
cycle end: the change is scheduled (shown on the subscription) and applied when that time has come (a
scheduler pass, and the cycle close before it bills). A new request replaces a scheduled one; a cancellation
drops scheduled changes that would fall on or after the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo as repo
from billing.domain.calendar import billing_cycle, cycle_index, local_date, start_of_day
from billing.domain.revenue import ChangeTiming, default_timing, prorate
from billing.domain.usage import GB
from billing.service_layer import revenue
from billing.service_layer.accounts import require_customer, require_subscriber
from billing.service_layer.deps import Deps, new_id
from bss_runtime.errors import Conflict, NotFound, RuleViolation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanIn:
    code: str
    name: str
    currency: str
    price_minor: int
    included_octets: int | None = None
    overage_price_per_gb_minor: int = 0
    overage_increment_octets: int = GB
    tax_rate_bp: int = 0


async def create_plan(session: AsyncSession, tenant_id: str, body: PlanIn) -> Row[Any]:
    try:
        async with session.begin_nested():
            return await repo.insert_plan(session, {"id": new_id(), "tenant_id": tenant_id, **body.__dict__})
    except IntegrityError as exc:
        raise Conflict(f"a plan with code {body.code!r} exists", field="code") from exc


async def get_plan(session: AsyncSession, tenant_id: str, plan_id: str) -> Row[Any]:
    plan = await repo.get_plan(session, tenant_id, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return plan


async def retire_plan(session: AsyncSession, tenant_id: str, plan_id: str) -> Row[Any]:
    plan = await repo.set_plan_active(session, tenant_id, plan_id, False)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return plan


async def get_subscription(session: AsyncSession, tenant_id: str, subscription_id: str) -> Row[Any]:
    subscription = await repo.get_subscription(session, tenant_id, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} not found")
    return subscription


async def subscribe(
    session: AsyncSession, deps: Deps, tenant_id: str, *, subscriber_id: str, plan_id: str, start_date: date | None
) -> Row[Any]:
    subscriber = await require_subscriber(session, tenant_id, subscriber_id)
    customer = await require_customer(session, tenant_id, subscriber.customer_id)
    plan = await repo.get_plan(session, tenant_id, plan_id)
    if plan is None or not plan.active:
        raise RuleViolation(f"unknown or retired plan {plan_id!r}", field="plan_id")
    tz = deps.zone(customer.timezone)
    start = start_date or local_date(deps.clock.now(), tz)
    try:
        async with session.begin_nested():
            return await _insert(session, deps, subscriber, plan, start, tz)
    except IntegrityError as exc:
        raise Conflict("the subscriber already has an active subscription", field="subscriber_id") from exc


async def _insert(
    session: AsyncSession, deps: Deps, subscriber: Row[Any], plan: Row[Any], start: date, tz: ZoneInfo
) -> Row[Any]:
    subscription = await repo.insert_subscription(session, new_subscription(deps, subscriber, plan, start, tz))
    return await revenue.record_history(session, deps, subscription, live="started")


def new_subscription(deps: Deps, subscriber: Any, plan: Any, start: date, tz: ZoneInfo) -> dict[str, Any]:
    """The row of a subscription of `subscriber` to `plan` starting on `start` (the customer's zone `tz`)."""
    return {
        "id": new_id(), "tenant_id": subscriber.tenant_id, "subscriber_id": subscriber.subscriber_id,
        "customer_id": subscriber.customer_id, "plan_id": plan.id, "currency": plan.currency,
        "start_date": start, "status": "active", "next_cycle": 0,
        "next_close_at": billing_cycle(start, 0).ends_at(tz) + deps.close_grace,
    }  # fmt: skip


async def cancel(
    session: AsyncSession, deps: Deps, tenant_id: str, subscription_id: str, *, last_day: date | None = None
) -> Row[Any]:
    """End the subscription with its current cycle, or after `last_day` (any day of a cycle not billed yet, past
    or future); the last cycle is still billed in full, when it closes: at its end, or once the end date has
    passed when that comes first."""
    subscription = await repo.get_subscription(session, tenant_id, subscription_id, lock=True)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} not found")
    if subscription.status != "active":
        raise Conflict(f"the subscription is {subscription.status}")
    now = deps.clock.now()
    if last_day is None:
        return await _end_with_current_cycle(session, deps, subscription, now, "canceled")
    if subscription.end_date is not None:
        raise Conflict(f"the subscription is canceled already, last day {subscription.end_date - timedelta(days=1)}",
                       field="last_day")  # fmt: skip
    open_cycle = billing_cycle(subscription.start_date, subscription.next_cycle)
    if last_day < open_cycle.start:
        raise RuleViolation(f"the cycles before {open_cycle.start} are billed already: the last day can be "
                            f"{open_cycle.start} or later", field="last_day")  # fmt: skip
    return await _end_on(session, deps, subscription, last_day + timedelta(days=1), now, "canceled")


async def _end_with_current_cycle(
    session: AsyncSession, deps: Deps, subscription: Row[Any], moment: datetime, cause: revenue.CancelCause
) -> Row[Any]:
    if subscription.end_date is not None:
        return subscription
    customer = await billing_repo.get_customer(session, subscription.tenant_id, subscription.customer_id)
    tz = deps.zone(customer.timezone if customer is not None else None)
    today = local_date(moment, tz)
    current = max(cycle_index(subscription.start_date, today), subscription.next_cycle, 0)
    end = billing_cycle(subscription.start_date, current).end
    return await _end_on(session, deps, subscription, end, moment, cause)


async def _end_on(
    session: AsyncSession, deps: Deps, subscription: Row[Any], end: date, moment: datetime, cause: revenue.CancelCause
) -> Row[Any]:
    """Schedule the end (exclusive `end` date); an end inside the open cycle closes that cycle when it passes."""
    customer = await billing_repo.get_customer(session, subscription.tenant_id, subscription.customer_id)
    tz = deps.zone(customer.timezone if customer is not None else None)
    ends_at = start_of_day(end, tz)
    await repo.supersede_scheduled_changes(session, subscription.tenant_id, subscription.id, from_instant=ends_at)
    values: dict[str, Any] = {"end_date": end}
    if subscription.next_close_at is not None:
        values["next_close_at"] = min(subscription.next_close_at, ends_at + deps.close_grace)
    ended = await repo.update_subscription(session, subscription.tenant_id, subscription.id, **values)
    return await revenue.record_history(session, deps, ended, cause=cause, canceled_at=moment, live="canceled")


# --- plan changes -------------------------------------------------------------------------------------------------


async def change_plan(
    session: AsyncSession, deps: Deps, tenant_id: str, subscription_id: str, *, plan_id: str,
    effective: ChangeTiming | None,
) -> Row[Any]:  # fmt: skip
    """Move the subscription to `plan_id` now (with proration) or at the end of the current cycle."""
    subscription = await repo.get_subscription(session, tenant_id, subscription_id, lock=True)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} not found")
    if subscription.status != "active":
        raise Conflict(f"the subscription is {subscription.status}")
    now = deps.clock.now()
    customer = await billing_repo.get_customer(session, tenant_id, subscription.customer_id)
    tz = deps.zone(customer.timezone if customer is not None else None)
    if subscription.end_date is not None and now >= start_of_day(subscription.end_date, tz):
        raise Conflict("the subscription has ended")
    plan = await repo.get_plan(session, tenant_id, plan_id)
    if plan is None or not plan.active:
        raise RuleViolation(f"unknown or retired plan {plan_id!r}", field="plan_id")
    # Changes whose time has come first, so that "the current plan" is the one in effect now.
    subscription = await apply_due_changes_of(session, deps, subscription, now)
    if plan.id == subscription.plan_id:
        raise Conflict("the subscription is on this plan already", field="plan_id")
    if plan.currency != subscription.currency:
        raise RuleViolation(
            f"plan {plan.code!r} is priced in {plan.currency}, the subscription in {subscription.currency}",
            field="plan_id",
        )
    current = await repo.get_plan(session, tenant_id, subscription.plan_id)
    if current is None:
        raise LookupError(f"plan {subscription.plan_id} is gone")
    subscription = await revenue.record_history(session, deps, subscription)  # an older one: its Started first
    await repo.supersede_scheduled_changes(session, tenant_id, subscription.id)
    timing = effective or default_timing(revenue.mrr(current), revenue.mrr(plan))
    starts_at = start_of_day(subscription.start_date, tz)
    index = max(cycle_index(subscription.start_date, local_date(now, tz)), 0)
    cycle = billing_cycle(subscription.start_date, index)
    change = {
        "id": new_id(), "tenant_id": tenant_id, "subscription_id": subscription.id, "from_plan_id": current.id,
        "to_plan_id": plan.id, "timing": timing, "requested_at": now,
    }  # fmt: skip
    if timing == "period_end":
        if subscription.end_date is not None and cycle.end >= subscription.end_date:
            raise Conflict("the subscription ends with its current cycle, before the change would take effect",
                           field="effective")  # fmt: skip
        await repo.insert_plan_change(session, change | {"status": "scheduled", "effective_at": cycle.ends_at(tz)})
        return subscription
    at = max(now, starts_at)
    proration = prorate(current.price_minor, plan.price_minor, at, cycle.starts_at(tz), cycle.ends_at(tz))
    prorated = proration.credit_minor != 0 or proration.charge_minor != 0
    row = await repo.insert_plan_change(
        session,
        change | {
            "status": "applied", "effective_at": at, "proration_period_start": cycle.start if prorated else None,
            "proration_credit_minor": proration.credit_minor, "proration_charge_minor": proration.charge_minor,
            "proration_rule": proration.rule,
        },
    )  # fmt: skip
    await revenue.plan_changed(session, deps, subscription, row, current, plan)
    return await repo.update_subscription(session, tenant_id, subscription.id, plan_id=plan.id)


async def apply_due_changes_of(session: AsyncSession, deps: Deps, subscription: Row[Any], now: datetime) -> Row[Any]:
    """Apply the (locked) subscription's scheduled changes whose time has come, each with its event."""
    for change in await repo.due_changes_of(session, subscription.tenant_id, subscription.id, now):
        if subscription.status != "active":
            await repo.update_plan_change(session, subscription.tenant_id, change.id, status="superseded")
            continue
        old = await repo.get_plan(session, subscription.tenant_id, subscription.plan_id)
        new = await repo.get_plan(session, subscription.tenant_id, change.to_plan_id)
        if old is None or new is None:
            raise LookupError(f"a plan of change {change.id} is gone")
        change = await repo.update_plan_change(
            session, subscription.tenant_id, change.id, status="applied", from_plan_id=old.id
        )
        await revenue.plan_changed(session, deps, subscription, change, old, new)
        subscription = await repo.update_subscription(session, subscription.tenant_id, subscription.id,
                                                      plan_id=new.id)  # fmt: skip
    return subscription


async def apply_due_changes(deps: Deps, *, tenant_id: str | None = None) -> int:
    """The scheduler pass: apply every scheduled plan change whose time has come (of one tenant, or all), a
    subscription per transaction, claimed FOR UPDATE SKIP LOCKED; returns how many subscriptions changed."""
    worked = 0
    while True:
        async with deps.database.transaction() as session:
            now = deps.clock.now()
            claimed = await repo.claim_subscription_with_due_change(session, now, tenant_id)
            if claimed is None:
                return worked
            await apply_due_changes_of(session, deps, claimed, now)
        worked += 1


async def scheduled_change(session: AsyncSession, tenant_id: str, subscription_id: str) -> Row[Any] | None:
    return await repo.scheduled_change_of(session, tenant_id, subscription_id)


# --- following the customers service's subscriber lifecycle ----------------------------------------------------


async def follow_activation(session: AsyncSession, deps: Deps, tenant_id: str, subscriber_id: str,
                            activated_at: datetime) -> Row[Any] | None:  # fmt: skip
    """A subscriber activated with a plan_id that names one of our plans (by id or code) starts a subscription
    on the activation day (customer's zone), unless one is active already."""
    subscriber = await billing_repo.get_subscriber(session, tenant_id, subscriber_id)
    if subscriber is None or subscriber.plan_id is None:
        return None
    plan = await repo.plan_by_id_or_code(session, tenant_id, subscriber.plan_id)
    if plan is None or not plan.active:
        log.info("subscriber's plan is not a billing plan: no subscription started",
                 extra={"subscriber_id": subscriber_id, "plan_id": subscriber.plan_id})  # fmt: skip
        return None
    if await repo.active_subscription_of(session, tenant_id, subscriber_id) is not None:
        return None
    customer = await billing_repo.get_customer(session, tenant_id, subscriber.customer_id)
    tz = deps.zone(customer.timezone if customer is not None else None)
    return await _insert(session, deps, subscriber, plan, local_date(activated_at, tz), tz)


async def follow_termination(session: AsyncSession, deps: Deps, tenant_id: str, subscriber_id: str,
                             terminated_at: datetime) -> None:  # fmt: skip
    """A terminated subscriber's subscription ends with the cycle the termination falls in."""
    subscription = await repo.active_subscription_of(session, tenant_id, subscriber_id, lock=True)
    if subscription is not None:
        await _end_with_current_cycle(session, deps, subscription, terminated_at, "subscriber_terminated")
