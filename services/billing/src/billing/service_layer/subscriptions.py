"""Plans and subscriptions.

A plan is immutable once created (its price is what existing subscriptions are billed); retire it to stop
selling it. A subscription bills one subscriber on a monthly cycle anchored on its start date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo as repo
from billing.domain.calendar import billing_cycle, cycle_index, local_date
from billing.domain.usage import GB
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
    return await repo.insert_subscription(
        session,
        {
            "id": new_id(), "tenant_id": subscriber.tenant_id, "subscriber_id": subscriber.subscriber_id,
            "customer_id": subscriber.customer_id, "plan_id": plan.id, "currency": plan.currency,
            "start_date": start, "status": "active", "next_cycle": 0,
            "next_close_at": billing_cycle(start, 0).ends_at(tz) + deps.close_grace,
        },
    )  # fmt: skip


async def cancel(session: AsyncSession, deps: Deps, tenant_id: str, subscription_id: str) -> Row[Any]:
    """End the subscription with its current cycle (that cycle is still billed in full, when it closes)."""
    subscription = await repo.get_subscription(session, tenant_id, subscription_id, lock=True)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} not found")
    if subscription.status != "active":
        raise Conflict(f"the subscription is {subscription.status}")
    return await _end_with_current_cycle(session, deps, subscription, deps.clock.now())


async def _end_with_current_cycle(
    session: AsyncSession, deps: Deps, subscription: Row[Any], moment: datetime
) -> Row[Any]:
    if subscription.end_date is not None:
        return subscription
    customer = await billing_repo.get_customer(session, subscription.tenant_id, subscription.customer_id)
    today = local_date(moment, deps.zone(customer.timezone if customer is not None else None))
    current = max(cycle_index(subscription.start_date, today), subscription.next_cycle, 0)
    end = billing_cycle(subscription.start_date, current).end
    return await repo.update_subscription(session, subscription.tenant_id, subscription.id, end_date=end)


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
        await _end_with_current_cycle(session, deps, subscription, terminated_at)
