"""The customers service's customer and subscriber events, a batch at a time (the consumer's `on_batch`).

A run of CustomerCreated / CustomerUpdated / SubscriberCreated / Activated / Suspended / Reinstated events gives
exactly what applying them one by one gives (`accounts.keep_customer`, `accounts.keep_subscriber`,
`subscriptions.follow_activation`, each event in its own transaction), with a fixed number of statements:
1. read our copies of the run's customers and subscribers, the plans their subscribers name (by id or code) and
   which of the activated subscribers have an active subscription: four SELECTs;
2. fold the events in memory in record order with the rules of `domain/account_copies.py`: each activation sees
   the subscriber and customer as they are after the events before it (a customer event after its subscriber's
   activation does not change the zone the subscription started in), and a subscription started earlier in the
   run (the same activation redelivered under another id, or activated twice) as active;
3. write the net states: one guarded upsert of customers, one of subscribers, one insert of the subscriptions
   (their `started_event_at` set: the Started event is written with them) and one outbox insert of their
   SubscriptionStarted events, each caused by its activation, in record order.
A SubscriberTerminated event ends the run's part before it (written as above) and is applied on its own, by the
one-event path (`subscriber_terminated`): terminations are rare and end a subscription with its cycle, scheduled
plan changes and Canceled event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from billing.adapters import repository as billing_repo
from billing.adapters import subscriptions_repo as repo
from billing.domain.account_copies import CustomerCopy, SubscriberCopy, kept_customer, kept_subscriber
from billing.domain.calendar import local_date
from billing.service_layer import accounts, revenue, subscriptions
from billing.service_layer.deps import Deps
from bss_contracts import DomainEvent, Envelope
from bss_contracts.events.customers import (
    CustomerCreated,
    CustomerUpdated,
    SubscriberActivated,
    SubscriberCreated,
    SubscriberTerminated,
)
from bss_runtime import context

log = logging.getLogger(__name__)
Key = tuple[str, str]


def customer_copy(tenant_id: str, event: CustomerCreated | CustomerUpdated) -> CustomerCopy:
    c = event.customer
    return CustomerCopy(tenant_id, c.customer_id, c.name, c.partner_id, c.billing_country, c.timezone, c.updated_at)


def subscriber_copy(tenant_id: str, event: Any) -> SubscriberCopy:
    """The fields a subscriber event carries (SubscriberCreated: with its plan; a status change: none)."""
    created = isinstance(event, SubscriberCreated)
    return SubscriberCopy(
        tenant_id=tenant_id,
        subscriber_id=event.subscriber_id,
        customer_id=event.customer_id,
        username=event.username,
        status=event.status,
        plan_id=event.plan_id if created else None,
        changed_at=event.created_at if created else event.changed_at,
    )


async def subscriber_terminated(session: AsyncSession, deps: Deps, tenant_id: str, event: SubscriberTerminated) -> None:
    """One termination: our copy, then the subscription ends with the cycle the termination falls in."""
    await accounts.keep_subscriber(
        session,
        tenant_id,
        subscriber_id=event.subscriber_id,
        customer_id=event.customer_id,
        username=event.username,
        status=event.status,
        changed_at=event.changed_at,
    )
    await subscriptions.follow_termination(session, deps, tenant_id, event.subscriber_id, event.changed_at)


async def apply_account_events(session: AsyncSession, deps: Deps, events: Sequence[Envelope[Any]]) -> None:
    """Apply a run of customer and subscriber events as if one by one (see the module's docstring)."""
    part: list[Envelope[Any]] = []
    for envelope in events:
        if isinstance(envelope.data, SubscriberTerminated):
            await _apply_part(session, deps, part)
            part = []
            with context.caused_by(
                correlation=envelope.correlation_id, causation=envelope.id, tenant=envelope.tenant_id
            ):
                await subscriber_terminated(session, deps, envelope.tenant_id, envelope.data)
        else:
            part.append(envelope)
    await _apply_part(session, deps, part)


@dataclass
class _Fold:
    customers: dict[Key, CustomerCopy]
    subscribers: dict[Key, SubscriberCopy]
    plans_by_id: dict[Key, Row[Any]]
    plans_by_code: dict[Key, Row[Any]]
    active: set[Key]
    new_subscriptions: list[dict[str, Any]] = field(default_factory=list)
    started: list[tuple[DomainEvent, str]] = field(default_factory=list)
    causes: list[Envelope[Any]] = field(default_factory=list)


async def _apply_part(session: AsyncSession, deps: Deps, events: Sequence[Envelope[Any]]) -> None:
    if not events:
        return
    fold = await _read(session, events)
    customers_before, subscribers_before = dict(fold.customers), dict(fold.subscribers)
    now = deps.clock.now()
    for envelope in events:
        data, tenant = envelope.data, envelope.tenant_id
        if isinstance(data, CustomerCreated | CustomerUpdated):
            key = (tenant, data.customer.customer_id)
            fold.customers[key] = kept_customer(fold.customers.get(key), customer_copy(tenant, data))
            continue
        key = (tenant, data.subscriber_id)
        incoming = subscriber_copy(tenant, data)
        subscriber = kept_subscriber(
            fold.subscribers.get(key), incoming, carries_plan=isinstance(data, SubscriberCreated)
        )
        fold.subscribers[key] = subscriber
        if isinstance(data, SubscriberActivated):
            _follow_activation(fold, deps, envelope, subscriber, now)
    await billing_repo.upsert_customers(session, [c for k, c in fold.customers.items() if customers_before.get(k) != c])
    await billing_repo.upsert_subscribers(
        session, [s for k, s in fold.subscribers.items() if subscribers_before.get(k) != s]
    )
    await repo.insert_subscriptions(session, fold.new_subscriptions)
    if fold.started:
        await deps.events.add_many(session, fold.started, causes=fold.causes)


async def _read(session: AsyncSession, events: Sequence[Envelope[Any]]) -> _Fold:
    subscriber_keys = sorted(
        {
            (e.tenant_id, e.data.subscriber_id)
            for e in events
            if not isinstance(e.data, CustomerCreated | CustomerUpdated)
        }
    )
    found_subscribers = {
        (s.tenant_id, s.subscriber_id): s for s in await billing_repo.subscribers_of(session, subscriber_keys)
    }
    customer_keys: set[Key] = {(s.tenant_id, s.customer_id) for s in found_subscribers.values()}
    plan_refs: set[Key] = {(s.tenant_id, s.plan_id) for s in found_subscribers.values() if s.plan_id is not None}
    for e in events:
        if isinstance(e.data, CustomerCreated | CustomerUpdated):
            customer_keys.add((e.tenant_id, e.data.customer.customer_id))
        else:
            customer_keys.add((e.tenant_id, e.data.customer_id))
            if isinstance(e.data, SubscriberCreated) and e.data.plan_id is not None:
                plan_refs.add((e.tenant_id, e.data.plan_id))
    found_customers = {
        (c.tenant_id, c.customer_id): c for c in await billing_repo.customers_of(session, sorted(customer_keys))
    }
    plans = await repo.plans_of_references(session, sorted(plan_refs))
    activated = sorted({(e.tenant_id, e.data.subscriber_id) for e in events if isinstance(e.data, SubscriberActivated)})
    active = await repo.subscribers_with_active_subscription(session, activated)
    return _Fold(
        customers=found_customers,
        subscribers=found_subscribers,
        plans_by_id={(p.tenant_id, p.id): p for p in plans},
        plans_by_code={(p.tenant_id, p.code): p for p in plans},
        active=active,
    )


def _follow_activation(
    fold: _Fold, deps: Deps, envelope: Envelope[Any], subscriber: SubscriberCopy, now: datetime
) -> None:
    """`subscriptions.follow_activation` on the folded state."""
    if subscriber.plan_id is None:
        return
    ref = (subscriber.tenant_id, subscriber.plan_id)
    plan = fold.plans_by_id.get(ref) or fold.plans_by_code.get(ref)
    if plan is None or not plan.active:
        log.info(
            "subscriber's plan is not a billing plan: no subscription started",
            extra={"subscriber_id": subscriber.subscriber_id, "plan_id": subscriber.plan_id},
        )
        return
    key = (subscriber.tenant_id, subscriber.subscriber_id)
    if key in fold.active:
        return
    customer = fold.customers.get((subscriber.tenant_id, subscriber.customer_id))
    tz = deps.zone(customer.timezone if customer is not None else None)
    start = local_date(envelope.data.changed_at, tz)
    row = subscriptions.new_subscription(deps, subscriber, plan, start, tz) | {"started_event_at": now}
    identity = revenue.subscription_identity(row, subscriber.username)
    fold.new_subscriptions.append(row)
    fold.started.append((revenue.started_event(identity, plan, start, tz, backfilled=False), subscriber.tenant_id))
    fold.causes.append(envelope)
    fold.active.add(key)
