"""Event handlers: billing's SLA breaches open tickets (the outage policy); customers' and dunning's events
keep the copies a ticket shows (the customer, each subscriber's status and who asked for it, collections)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_contracts.events.billing import SlaBreachDetected
from bss_contracts.events.customers import (
    CustomerCreated,
    CustomerUpdated,
    SubscriberActivated,
    SubscriberCreated,
    SubscriberReinstated,
    SubscriberSuspended,
    SubscriberTerminated,
)
from bss_contracts.events.dunning import DunningCanceled, DunningCompleted, DunningStarted, DunningStepExecuted
from bss_runtime.consumer import EventConsumer
from support.adapters import repository as repo
from support.service_layer import outages
from support.service_layer.deps import SupportDeps

StatusChange = SubscriberActivated | SubscriberSuspended | SubscriberReinstated | SubscriberTerminated
DunningEvent = DunningStarted | DunningStepExecuted | DunningCompleted | DunningCanceled


def register(consumer: EventConsumer, deps: SupportDeps) -> None:
    @consumer.on(SlaBreachDetected)
    async def on_breach(event: Envelope[SlaBreachDetected], session: AsyncSession) -> None:
        await outages.breach_detected(session, deps, event.tenant_id, event.data)

    async def keep_customer(
        event: Envelope[CustomerCreated] | Envelope[CustomerUpdated], session: AsyncSession
    ) -> None:
        c = event.data.customer
        await repo.upsert_customer(session, {
            "tenant_id": event.tenant_id, "customer_id": c.customer_id, "name": c.name, "timezone": c.timezone,
            "updated_at": c.updated_at,
        })  # fmt: skip

    consumer.on(CustomerCreated)(keep_customer)
    consumer.on(CustomerUpdated)(keep_customer)

    @consumer.on(SubscriberCreated)
    async def on_subscriber(event: Envelope[SubscriberCreated], session: AsyncSession) -> None:
        s = event.data
        await repo.upsert_subscriber(session, {
            "tenant_id": event.tenant_id, "subscriber_id": s.subscriber_id, "customer_id": s.customer_id,
            "username": s.username, "status": s.status, "changed_at": s.created_at,
        })  # fmt: skip

    async def keep_status(event: Envelope[StatusChange], session: AsyncSession) -> None:
        s = event.data
        await repo.upsert_subscriber(session, {
            "tenant_id": event.tenant_id, "subscriber_id": s.subscriber_id, "customer_id": s.customer_id,
            "username": s.username, "status": s.status, "status_reason": s.reason,
            "status_requested_by": s.requested_by, "changed_at": s.changed_at,
        })  # fmt: skip

    for model in (SubscriberActivated, SubscriberSuspended, SubscriberReinstated, SubscriberTerminated):
        consumer.on(model)(keep_status)

    async def keep_dunning(event: Envelope[DunningEvent], session: AsyncSession) -> None:
        d = event.data
        values: dict[str, Any] = {
            "tenant_id": event.tenant_id, "execution_id": d.execution_id, "invoice_id": d.invoice_id,
            "customer_id": d.customer_id, "subscriber_id": d.subscriber_id, "state": "active",
            "updated_at": event.time,
        }  # fmt: skip
        if isinstance(d, DunningStarted):
            values |= {"campaign_name": d.campaign_name, "outstanding_minor": d.outstanding_minor,
                       "currency": d.currency, "started_at": d.started_at}  # fmt: skip
        elif isinstance(d, DunningStepExecuted):
            values["last_action"] = f"{d.action_type}:{d.status}"
        elif isinstance(d, DunningCompleted):
            values |= {"state": d.outcome, "outstanding_minor": d.outstanding_minor, "currency": d.currency}
        else:
            values["state"] = "canceled"
        await repo.upsert_dunning(session, values)

    for dunning_model in (DunningStarted, DunningStepExecuted, DunningCompleted, DunningCanceled):
        consumer.on(dunning_model)(keep_dunning)
