"""Event handlers: each event type to its projection. The same registration serves the live consumer and
the rebuild (both hold a `bss_runtime.consumer.EventRoutes`), so that both apply events the same way.
RADIUS session events, customer, subscriber, subscription and invoice events are applied a batch at a time (each run
of consecutive events of one handler's types at once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import DomainEvent, Envelope
from bss_contracts.events import billing, customers, dunning, radius, support
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import ReadModel
from reporting.alerts.domain.rules import EventSource
from reporting.alerts.service_layer.triggers import events_applied as alert_triggers_of
from reporting.analytics.service_layer import revenue as revenue_views
from reporting.service_layer import customers as customer_views
from reporting.service_layer import dunning as dunning_views
from reporting.service_layer import invoices as invoice_views
from reporting.service_layer import sessions as session_views
from reporting.service_layer import sla as sla_views
from reporting.tickets.service_layer import projection as ticket_views

Handler = Callable[[Envelope[Any], AsyncSession], Awaitable[None]]
BatchHandler = Callable[[Sequence[Envelope[Any]], AsyncSession], Awaitable[None]]


class Registry(Protocol):
    def on(self, model: type[Any]) -> Callable[[Handler], Handler]: ...

    def on_batch(
        self, *models: type[Any], concurrent: Callable[[Envelope[Any]], bool] | None = None
    ) -> Callable[[BatchHandler], BatchHandler]: ...


Clock = Callable[[], datetime]


def session_event_concurrent(event: Envelope[Any]) -> bool:
    """Session events may be applied by concurrent transactions, one per group of partitions (the key is the
    username, so two groups never share a session row; the rollups they share are added to, and each hour's
    concurrency summary is taken under a lock: analytics/service_layer/concurrency.py). Not a Stop radius-ingest
    synthesised for a NAS reset: a reset closes every session of its NAS, whatever partition holds them, so a
    poll that holds one (or a NasAccountingOn/Off, handled one by one) is applied in one transaction."""
    return not (isinstance(event.data, radius.SessionStopped) and event.data.closed_by_nas_reset is not None)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def register(
    registry: Registry,
    rm: ReadModel,
    partitions: SessionPartitions,
    clock: Clock = _utcnow,
    *,
    balance_batches: bool = True,
    alert_triggers: bool = False,
) -> None:
    """Every event type to its projection. `balance_batches=False` applies invoice balance events one at a time
    with the reference functions (for the tests that prove the batch path equal to them). `alert_triggers`: the
    live consumer also raises the alert rules' triggers of what it applied (alerts/service_layer/triggers.py),
    in the same transaction; a rebuild replaying history does not."""

    async def moved(session: AsyncSession, events: Sequence[Envelope[Any]], source: EventSource) -> None:
        if alert_triggers:
            await alert_triggers_of(session, [e.tenant_id for e in events], source)

    def on(*models: type[DomainEvent]) -> Callable[[Handler], Handler]:
        def add(handler: Handler) -> Handler:
            for model in models:
                registry.on(model)(handler)
            return handler

        return add

    @registry.on_batch(customers.CustomerCreated, customers.CustomerUpdated)
    async def customer(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await customer_views.upsert_customers(session, rm, [(e.tenant_id, e.data.customer) for e in events])

    @registry.on_batch(customers.PartnerCreated, customers.PartnerUpdated)
    async def partner(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await customer_views.upsert_partners(session, rm, [(e.tenant_id, e.data.partner) for e in events])

    @registry.on_batch(customers.SubscriberCreated)
    async def subscriber_created(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await customer_views.subscribers_created(session, rm, [(e.tenant_id, e.data) for e in events])

    @on(
        customers.SubscriberActivated,
        customers.SubscriberSuspended,
        customers.SubscriberReinstated,
        customers.SubscriberTerminated,
    )
    async def subscriber_status(event: Envelope[Any], session: AsyncSession) -> None:
        await customer_views.subscriber_status_changed(session, rm, event.tenant_id, event.data)

    @registry.on_batch(
        billing.SubscriptionStarted,
        billing.SubscriptionPlanChanged,
        billing.SubscriptionCanceled,
        billing.SubscriptionEnded,
    )
    async def subscriptions(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        await revenue_views.subscription_events(session, rm, [(e.tenant_id, e.id, e.data) for e in events])
        await moved(session, events, "subscriptions")

    if balance_batches:  # every run of consecutive invoice-topic events at once

        @registry.on_batch(billing.InvoiceIssued, *invoice_views.ONE_BY_ONE)
        async def invoice_events(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
            await invoice_views.invoice_events(session, rm, [(e.tenant_id, e.id, e.data) for e in events])
            await moved(session, events, "invoices")

    else:  # the reference: balance events one at a time (what the batch path must equal; its tests compare)

        @registry.on_batch(billing.InvoiceIssued)
        async def invoices_issued(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
            await invoice_views.invoices_issued(session, rm, [(e.tenant_id, e.id, e.data) for e in events])
            await moved(session, events, "invoices")

        @on(*invoice_views.ONE_BY_ONE)
        async def invoice(event: Envelope[Any], session: AsyncSession) -> None:
            await invoice_views.ONE_BY_ONE[type(event.data)](session, rm, event.tenant_id, event.id, event.data)
            await moved(session, [event], "invoices")

    @on(billing.SlaBreachDetected)
    async def breach_detected(event: Envelope[billing.SlaBreachDetected], session: AsyncSession) -> None:
        await sla_views.breach_detected(session, rm, event.tenant_id, event.data)
        await moved(session, [event], "sla")

    @on(billing.SlaBreachResolved)
    async def breach_resolved(event: Envelope[billing.SlaBreachResolved], session: AsyncSession) -> None:
        await sla_views.breach_resolved(session, rm, event.tenant_id, event.data)
        await moved(session, [event], "sla")

    @on(billing.SlaCreditIssued)
    async def credit_issued(event: Envelope[billing.SlaCreditIssued], session: AsyncSession) -> None:
        await sla_views.credit_issued(session, rm, event.tenant_id, event.data)

    @on(dunning.DunningStarted, dunning.DunningStepExecuted, dunning.DunningCompleted, dunning.DunningCanceled)
    async def dunning_execution(event: Envelope[Any], session: AsyncSession) -> None:
        await dunning_views.execution_changed(session, rm, event.tenant_id, event.data)

    @registry.on_batch(
        radius.SessionStarted, radius.SessionUpdated, radius.SessionStopped, concurrent=session_event_concurrent
    )
    async def radius_sessions(events: Sequence[Envelope[Any]], session: AsyncSession) -> None:
        try:
            await session_views.session_events(
                session, rm, partitions, [(e.tenant_id, e.data) for e in events], clock()
            )
        except IntegrityError:
            # e.g. no partition for the row although the cache said there was one (a rebuild swapped the
            # tables, or the transaction that created it rolled back): forget the cache; the retry creates it.
            partitions.forget()
            raise
        await moved(session, events, "sessions")

    @on(radius.NasAccountingOn, radius.NasAccountingOff)
    async def nas_reset(event: Envelope[Any], session: AsyncSession) -> None:
        await session_views.nas_reset(session, rm, event.tenant_id, event.data, clock())
        await moved(session, [event], "sessions")

    @on(
        support.TicketOpened,
        support.TicketAssigned,
        support.TicketFirstResponse,
        support.TicketStatusChanged,
        support.TicketSlaBreached,
        support.TicketResolved,
        support.TicketReopened,
    )
    async def ticket(event: Envelope[Any], session: AsyncSession) -> None:
        await ticket_views.ticket_event(session, rm, event.tenant_id, event.data)
