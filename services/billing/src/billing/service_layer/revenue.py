"""The subscription's revenue as events: Started, PlanChanged, Canceled (end scheduled), Ended.

Every event is written to the outbox in the transaction of the change it reports. Started, Canceled and Ended
are written by `record_history`, which writes whichever of them a subscription's state calls for and is not
written yet (markers on the subscription row), in that order; so the subscribe, cancel and cycle-close use
cases call it after their change, and the history pass (`publish_missing_history`, a scheduler loop and
`python -m billing.backfill`) gives subscriptions older than these events their history, once: running it
again finds nothing to write. Plan changes have no such backlog (there were none before), they are written by
`plan_changed` when a change takes effect.

Amounts follow `billing.domain.revenue`: the monthly recurring amount of the plan in effect, tax excluded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo as repo
from billing.domain.calendar import start_of_day
from billing.domain.revenue import monthly_amount
from billing.service_layer.deps import Deps
from bss_contracts.events.billing import (
    SubscriptionCanceled,
    SubscriptionEnded,
    SubscriptionPlanChanged,
    SubscriptionStarted,
)

CancelCause = Literal["canceled", "subscriber_terminated"]
HistoryEvent = Literal["started", "canceled", "ended"]
log = logging.getLogger(__name__)


async def plan_in_effect(session: AsyncSession, subscription: Row[Any], instant: datetime | None) -> Row[Any]:
    """The plan the subscription was on at `instant` (at its start, when None): the plan the earliest change
    after that instant moved away from, else the current one."""
    change = await repo.first_applied_change_after(session, subscription.tenant_id, subscription.id, instant)
    plan_id = change.from_plan_id if change is not None else subscription.plan_id
    plan = await repo.get_plan(session, subscription.tenant_id, plan_id)
    if plan is None:
        raise LookupError(f"plan {plan_id} of subscription {subscription.id} is gone")
    return plan


def mrr(plan: Row[Any]) -> int:
    return monthly_amount(int(plan.price_minor))


async def _identity(session: AsyncSession, subscription: Row[Any]) -> dict[str, Any]:
    subscriber = await billing_repo.get_subscriber(session, subscription.tenant_id, subscription.subscriber_id)
    if subscriber is None:
        raise LookupError(f"subscriber {subscription.subscriber_id} of subscription {subscription.id} is unknown")
    return subscription_identity(subscription._mapping, subscriber.username)


def subscription_identity(subscription: Mapping[Any, Any], username: str) -> dict[str, Any]:
    """The fields every subscription event carries (`subscription`: its row's mapping, or the values of one)."""
    return {
        "subscription_id": subscription["id"],
        "customer_id": subscription["customer_id"],
        "subscriber_id": subscription["subscriber_id"],
        "username": username,
        "currency": subscription["currency"],
    }


def started_event(
    identity: dict[str, Any], plan: Any, start_date: date, tz: ZoneInfo, *, backfilled: bool
) -> SubscriptionStarted:
    """The Started event of a subscription starting on `start_date` (the customer's zone `tz`) on `plan`."""
    return SubscriptionStarted(
        **identity, plan_id=plan.id, mrr_before_minor=0, mrr_after_minor=mrr(plan),
        effective_at=start_of_day(start_date, tz), backfilled=backfilled, start_date=start_date,
        plan_price_minor=plan.price_minor,
    )  # fmt: skip


async def record_history(
    session: AsyncSession,
    deps: Deps,
    subscription: Row[Any],
    *,
    cause: CancelCause = "canceled",
    canceled_at: datetime | None = None,
    live: HistoryEvent | None = None,
) -> Row[Any]:
    """Write the subscription's Started / Canceled / Ended events that its state calls for and that are not
    written yet; returns the row with its markers set. The caller holds the row locked. `live` names the event
    of the change the caller just made; any other is written late (a subscription from before these events)
    and marked `backfilled`."""
    sub = subscription
    wants_started = sub.started_event_at is None
    wants_canceled = sub.end_date is not None and sub.canceled_event_at is None
    wants_ended = sub.status == "ended" and sub.ended_event_at is None
    if not (wants_started or wants_canceled or wants_ended):
        return sub
    now = deps.clock.now()
    customer = await billing_repo.get_customer(session, sub.tenant_id, sub.customer_id)
    tz = deps.zone(customer.timezone if customer is not None else None)
    identity = await _identity(session, sub)
    markers: dict[str, datetime] = {}
    if wants_started:
        plan = await plan_in_effect(session, sub, None)
        started = started_event(identity, plan, sub.start_date, tz, backfilled=live != "started")
        await deps.events.add(session, started, tenant_id=sub.tenant_id)
        markers["started_event_at"] = now
    current = await repo.get_plan(session, sub.tenant_id, sub.plan_id)
    if current is None:
        raise LookupError(f"plan {sub.plan_id} of subscription {sub.id} is gone")
    if wants_canceled or wants_ended:
        ends_at = start_of_day(sub.end_date, tz)
        last_day = sub.end_date - timedelta(days=1)
        if wants_canceled:
            canceled = SubscriptionCanceled(
                **identity, plan_id=current.id, mrr_before_minor=mrr(current), mrr_after_minor=mrr(current),
                effective_at=min(canceled_at or now, ends_at), backfilled=live != "canceled", cause=cause,
                ends_at=ends_at, last_day=last_day,
            )  # fmt: skip
            await deps.events.add(session, canceled, tenant_id=sub.tenant_id)
            markers["canceled_event_at"] = now
        if wants_ended:
            ended = SubscriptionEnded(
                **identity, plan_id=current.id, mrr_before_minor=mrr(current), mrr_after_minor=0,
                effective_at=ends_at, backfilled=live != "ended", last_day=last_day,
            )  # fmt: skip
            await deps.events.add(session, ended, tenant_id=sub.tenant_id)
            markers["ended_event_at"] = now
    return await repo.update_subscription(session, sub.tenant_id, sub.id, **markers)


async def plan_changed(
    session: AsyncSession, deps: Deps, subscription: Row[Any], change: Row[Any], old: Row[Any], new: Row[Any]
) -> None:
    """The event of a change that took effect (`subscription` is the row before it)."""
    event = SubscriptionPlanChanged(
        **await _identity(session, subscription), plan_id=new.id, previous_plan_id=old.id,
        mrr_before_minor=mrr(old), mrr_after_minor=mrr(new), effective_at=change.effective_at, timing=change.timing,
        requested_at=change.requested_at, plan_price_minor=new.price_minor, previous_plan_price_minor=old.price_minor,
    )  # fmt: skip
    await deps.events.add(session, event, tenant_id=subscription.tenant_id)


async def publish_missing_history(deps: Deps, *, tenant_id: str | None = None) -> int:
    """The backfill: every subscription without its Started (or, as its state says, Canceled / Ended) event
    gets it, `backfilled` marked, a batch per transaction; returns how many subscriptions were completed.
    Idempotent: the markers are set in the transaction that writes the events, so a second run writes nothing."""
    done = 0
    while True:
        completed = 0
        async with deps.database.transaction() as session:
            batch = await repo.claim_history_missing(session, deps.batch_size, tenant_id)
            for subscription in batch:
                try:
                    async with session.begin_nested():
                        await record_history(session, deps, subscription)
                except LookupError:
                    log.exception(
                        "subscription history cannot be written yet", extra={"subscription_id": subscription.id}
                    )
                    continue
                completed += 1
        done += completed
        if len(batch) < deps.batch_size or completed == 0:
            return done
