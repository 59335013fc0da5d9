"""Event handlers: our copy of customers and subscribers with the subscriptions their activations start and
terminations end, and RADIUS session counters for usage billing; each a batch of events at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service_layer import account_batches as account_batches_
from billing.service_layer import accounts, subscriptions, usage
from billing.service_layer.deps import Deps
from bss_contracts import Envelope
from bss_contracts.events.customers import (
    CustomerCreated,
    CustomerUpdated,
    SubscriberActivated,
    SubscriberCreated,
    SubscriberReinstated,
    SubscriberSuspended,
    SubscriberTerminated,
)
from bss_contracts.events.radius import SessionStarted, SessionStopped, SessionUpdated
from bss_runtime.consumer import EventConsumer, EventRoutes

StatusChange = SubscriberActivated | SubscriberSuspended | SubscriberReinstated | SubscriberTerminated
ACCOUNT_EVENTS = (
    CustomerCreated, CustomerUpdated, SubscriberCreated, SubscriberActivated, SubscriberSuspended,
    SubscriberReinstated, SubscriberTerminated,
)  # fmt: skip


def register(consumer: EventConsumer | EventRoutes, deps: Deps, *, account_batches: bool = True) -> None:
    """`account_batches=False`: customer and subscriber events one at a time (the reference the batch path is
    proven equal to, `tests/test_account_batches.py`)."""
    if account_batches:

        @consumer.on_batch(*ACCOUNT_EVENTS)
        async def on_accounts(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
            await account_batches_.apply_account_events(session, deps, events)

    else:
        register_one_by_one(consumer, deps)

    @consumer.on_batch(SessionStarted, SessionStopped, SessionUpdated)
    async def on_sessions(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await usage.record_sessions(session, deps, [(e.tenant_id, e.data) for e in events])


def register_one_by_one(consumer: EventConsumer | EventRoutes, deps: Deps) -> None:
    """Customer and subscriber events, one at a time."""

    async def keep_customer(
        event: Envelope[CustomerCreated] | Envelope[CustomerUpdated], session: AsyncSession
    ) -> None:
        await accounts.keep_customer(session, event.tenant_id, event.data.customer)

    consumer.on(CustomerCreated)(keep_customer)
    consumer.on(CustomerUpdated)(keep_customer)

    @consumer.on(SubscriberCreated)
    async def on_subscriber(event: Envelope[SubscriberCreated], session: AsyncSession) -> None:
        s = event.data
        await accounts.keep_subscriber(
            session, event.tenant_id, subscriber_id=s.subscriber_id, customer_id=s.customer_id, username=s.username,
            status=s.status, changed_at=s.created_at, plan_id=s.plan_id, created=True,
        )  # fmt: skip

    async def keep_status(event: Envelope[StatusChange], session: AsyncSession) -> StatusChange:
        s = event.data
        await accounts.keep_subscriber(
            session, event.tenant_id, subscriber_id=s.subscriber_id, customer_id=s.customer_id, username=s.username,
            status=s.status, changed_at=s.changed_at,
        )  # fmt: skip
        return s

    @consumer.on(SubscriberSuspended)
    @consumer.on(SubscriberReinstated)
    async def on_status(event: Envelope[StatusChange], session: AsyncSession) -> None:
        await keep_status(event, session)

    @consumer.on(SubscriberActivated)
    async def on_activated(event: Envelope[StatusChange], session: AsyncSession) -> None:
        s = await keep_status(event, session)
        await subscriptions.follow_activation(session, deps, event.tenant_id, s.subscriber_id, s.changed_at)

    @consumer.on(SubscriberTerminated)
    async def on_terminated(event: Envelope[SubscriberTerminated], session: AsyncSession) -> None:
        await account_batches_.subscriber_terminated(session, deps, event.tenant_id, event.data)
