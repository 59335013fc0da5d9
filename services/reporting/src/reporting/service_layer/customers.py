"""Customers and subscribers into the read model.

Customer events carry the whole customer: the newest (by the customer's updated_at) wins, whichever order
they come in. Subscriber status events win by their changed_at. Invoices that did not name a partner or
billing country take the customer's, whichever of the two arrived first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import customers as ev
from reporting.adapters.tables import ReadModel
from reporting.service_layer.aging import aging_follows


async def upsert_customer(session: AsyncSession, rm: ReadModel, tenant: str, state: ev.CustomerState) -> None:
    c = rm.customers
    values = {
        "name": state.name,
        "email": state.email,
        "phone": state.phone,
        "partner_id": state.partner_id,
        "region": state.region,
        "billing_country": state.billing_country,
        "source_updated_at": state.updated_at,
    }
    stmt = insert(c).values(tenant_id=tenant, customer_id=state.customer_id, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[c.c.tenant_id, c.c.customer_id],
            set_={k: stmt.excluded[k] for k in values},
            where=c.c.source_updated_at <= stmt.excluded.source_updated_at,
        )
    )
    await fill_invoice_attribution(session, rm, tenant, state.customer_id)


async def fill_invoice_attribution(session: AsyncSession, rm: ReadModel, tenant: str, customer_id: str) -> None:
    """Invoices without their own partner / billing country take the customer's current ones."""
    i, c = rm.invoices, rm.customers
    partner = func.coalesce(i.c.invoice_partner_id, c.c.partner_id)
    country = func.coalesce(i.c.invoice_billing_country, c.c.billing_country)
    moved = await session.scalars(
        select(i.c.invoice_id)
        .where(
            i.c.tenant_id == tenant,
            i.c.customer_id == customer_id,
            c.c.tenant_id == i.c.tenant_id,
            c.c.customer_id == i.c.customer_id,
            or_(i.c.partner_id.is_distinct_from(partner), i.c.billing_country.is_distinct_from(country)),
        )
        .order_by(i.c.invoice_id)
    )
    for invoice_id in moved.all():
        async with aging_follows(session, rm, tenant, invoice_id):
            await session.execute(
                update(i)
                .where(
                    i.c.tenant_id == tenant,
                    i.c.invoice_id == invoice_id,
                    c.c.tenant_id == i.c.tenant_id,
                    c.c.customer_id == i.c.customer_id,
                )
                .values(partner_id=partner, billing_country=country)
            )


async def subscriber_created(session: AsyncSession, rm: ReadModel, tenant: str, data: ev.SubscriberCreated) -> None:
    s = rm.subscribers
    stmt = insert(s).values(
        tenant_id=tenant,
        subscriber_id=data.subscriber_id,
        customer_id=data.customer_id,
        username=data.username,
        plan_id=data.plan_id,
        status=data.status,
        created_at=data.created_at,
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[s.c.tenant_id, s.c.subscriber_id],
            set_={
                "customer_id": stmt.excluded.customer_id,
                "username": stmt.excluded.username,
                "plan_id": stmt.excluded.plan_id,
                "created_at": stmt.excluded.created_at,
                # a status event already seen is newer than the status a subscriber is created with
                "status": func.coalesce(s.c.status, stmt.excluded.status),
            },
        )
    )


StatusChange = ev.SubscriberActivated | ev.SubscriberSuspended | ev.SubscriberReinstated | ev.SubscriberTerminated


async def subscriber_status_changed(session: AsyncSession, rm: ReadModel, tenant: str, data: StatusChange) -> None:
    s = rm.subscribers
    values: dict[str, object] = {"status": data.status, "status_changed_at": data.changed_at}
    if isinstance(data, ev.SubscriberActivated):
        values["activated_at"] = data.changed_at
    elif isinstance(data, ev.SubscriberSuspended):
        values |= {"suspended_at": data.changed_at, "suspension_reason": data.reason}
    elif isinstance(data, ev.SubscriberReinstated):
        values |= {"suspended_at": None, "suspension_reason": None}
    elif isinstance(data, ev.SubscriberTerminated):
        values["terminated_at"] = data.changed_at
    stmt = insert(s).values(
        tenant_id=tenant,
        subscriber_id=data.subscriber_id,
        customer_id=data.customer_id,
        username=data.username,
        **values,
    )
    updates: dict[str, Any] = {k: stmt.excluded[k] for k in values}
    if "activated_at" in values:  # the first activation is the one that counts
        updates["activated_at"] = func.least(s.c.activated_at, stmt.excluded.activated_at)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[s.c.tenant_id, s.c.subscriber_id],
            set_=updates,
            where=or_(s.c.status_changed_at.is_(None), s.c.status_changed_at <= stmt.excluded.status_changed_at),
        )
    )
