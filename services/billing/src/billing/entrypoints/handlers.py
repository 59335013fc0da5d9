"""Event handlers: our copy of customers and subscribers, and RADIUS session counters for usage billing (a batch
of session events at a time)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
from bss_runtime.consumer import EventConsumer

StatusChange = SubscriberActivated | SubscriberSuspended | SubscriberReinstated | SubscriberTerminated


def register(consumer: EventConsumer, deps: Deps) -> None:
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
    async def on_terminated(event: Envelope[StatusChange], session: AsyncSession) -> None:
        s = await keep_status(event, session)
        await subscriptions.follow_termination(session, deps, event.tenant_id, s.subscriber_id, s.changed_at)

    @consumer.on_batch(SessionStarted, SessionStopped, SessionUpdated)
    async def on_sessions(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await usage.record_sessions(session, deps, [(e.tenant_id, e.data) for e in events])
