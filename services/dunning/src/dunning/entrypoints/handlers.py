"""Event handlers: billing's invoices and payments drive executions; customers' events keep our copy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_contracts.events.billing import CreditNoteIssued, InvoiceOverdue, InvoicePaid, InvoiceVoided, PaymentReceived
from bss_contracts.events.customers import (
    CustomerCreated,
    CustomerUpdated,
    SubscriberActivated,
    SubscriberCreated,
    SubscriberReinstated,
    SubscriberSuspended,
    SubscriberTerminated,
)
from bss_runtime.consumer import EventConsumer
from dunning.adapters import repository as repo
from dunning.service_layer import intake, settlement
from dunning.service_layer.deps import Deps

StatusChange = SubscriberActivated | SubscriberSuspended | SubscriberReinstated | SubscriberTerminated


def register(consumer: EventConsumer, deps: Deps) -> None:
    @consumer.on(InvoiceOverdue)
    async def on_overdue(event: Envelope[InvoiceOverdue], session: AsyncSession) -> None:
        await intake.record_overdue(session, deps, event.tenant_id, event.data)

    @consumer.on(PaymentReceived)
    async def on_payment(event: Envelope[PaymentReceived], session: AsyncSession) -> None:
        await settlement.payment_received(session, deps, event.tenant_id, event.data)

    @consumer.on(CreditNoteIssued)
    async def on_credit_note(event: Envelope[CreditNoteIssued], session: AsyncSession) -> None:
        await settlement.credit_note_issued(session, deps, event.tenant_id, event.data)

    @consumer.on(InvoicePaid)
    async def on_paid(event: Envelope[InvoicePaid], session: AsyncSession) -> None:
        await settlement.invoice_paid(session, deps, event.tenant_id, event.data)

    @consumer.on(InvoiceVoided)
    async def on_voided(event: Envelope[InvoiceVoided], session: AsyncSession) -> None:
        await settlement.invoice_voided(session, deps, event.tenant_id, event.data)

    async def keep_customer(
        event: Envelope[CustomerCreated] | Envelope[CustomerUpdated], session: AsyncSession
    ) -> None:
        c = event.data.customer
        await repo.upsert_customer(
            session,
            {
                "tenant_id": event.tenant_id, "customer_id": c.customer_id, "name": c.name, "email": c.email,
                "phone": c.phone, "partner_id": c.partner_id, "tags": list(c.tags), "timezone": c.timezone,
                "source_updated_at": c.updated_at,
            },
        )  # fmt: skip

    consumer.on(CustomerCreated)(keep_customer)
    consumer.on(CustomerUpdated)(keep_customer)

    @consumer.on(SubscriberCreated)
    async def on_subscriber(event: Envelope[SubscriberCreated], session: AsyncSession) -> None:
        s = event.data
        await repo.upsert_subscriber(
            session,
            {"tenant_id": event.tenant_id, "subscriber_id": s.subscriber_id, "customer_id": s.customer_id,
             "username": s.username, "status": s.status, "changed_at": s.created_at},
        )  # fmt: skip

    async def keep_status(event: Envelope[StatusChange], session: AsyncSession) -> None:
        s = event.data
        await repo.upsert_subscriber(
            session,
            {"tenant_id": event.tenant_id, "subscriber_id": s.subscriber_id, "customer_id": s.customer_id,
             "username": s.username, "status": s.status, "changed_at": s.changed_at},
        )  # fmt: skip

    for model in (SubscriberActivated, SubscriberSuspended, SubscriberReinstated, SubscriberTerminated):
        consumer.on(model)(keep_status)
