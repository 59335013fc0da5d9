"""Customers and subscribers into the read model.

Customer events carry the whole customer: the newest (by the customer's updated_at) wins, whichever order
they come in. Subscriber status events win by their changed_at. Invoices that did not name a partner or
billing country take the customer's, whichever of the two arrived first.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import customers as ev
from reporting.adapters.tables import ReadModel
from reporting.service_layer.aging import aging_follows


async def upsert_customers(
    session: AsyncSession, rm: ReadModel, states: Sequence[tuple[str, ev.CustomerState]]
) -> None:
    """Customer events of a batch, as if one by one: per customer the newest state (by updated_at; of equal
    ones the later) is upserted once, kept only if it is not older than the stored one; then invoices that
    take their partner or country from these customers follow."""
    newest: dict[tuple[str, str], ev.CustomerState] = {}
    for tenant, state in states:
        key = (tenant, state.customer_id)
        if key not in newest or newest[key].updated_at <= state.updated_at:
            newest[key] = state
    rows = sorted(newest.items())
    columns = {
        "tenant_id": ("text", [t for (t, _), _ in rows]),
        "customer_id": ("text", [c for (_, c), _ in rows]),
        "name": ("text", [s.name for _, s in rows]),
        "email": ("text", [s.email for _, s in rows]),
        "phone": ("text", [s.phone for _, s in rows]),
        "partner_id": ("text", [s.partner_id for _, s in rows]),
        "region": ("text", [s.region for _, s in rows]),
        "billing_country": ("text", [s.billing_country for _, s in rows]),
        "timezone": ("text", [s.timezone for _, s in rows]),
        "source_updated_at": ("timestamptz", [s.updated_at for _, s in rows]),
    }
    kept = [n for n in columns if n not in ("tenant_id", "customer_id")]
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".customers AS c ({", ".join(columns)})
            SELECT * FROM unnest({", ".join(f"CAST(:{n} AS {t}[])" for n, (t, _) in columns.items())})
            ON CONFLICT (tenant_id, customer_id) DO UPDATE SET {", ".join(f"{n} = EXCLUDED.{n}" for n in kept)}
            WHERE c.source_updated_at <= EXCLUDED.source_updated_at
            """
        ),
        {n: values for n, (_, values) in columns.items()},
    )
    for tenant, customer_id in await _invoices_to_attribute(session, rm, [key for key, _ in rows]):
        await fill_invoice_attribution(session, rm, tenant, customer_id)


async def upsert_partners(session: AsyncSession, rm: ReadModel, states: Sequence[tuple[str, ev.PartnerState]]) -> None:
    """Partner events of a batch: per partner the newest state (by updated_at; of equal ones the later) is
    upserted once, kept only if it is not older than the stored one."""
    newest: dict[tuple[str, str], ev.PartnerState] = {}
    for tenant, state in states:
        key = (tenant, state.partner_id)
        if key not in newest or newest[key].updated_at <= state.updated_at:
            newest[key] = state
    rows = sorted(newest.items())
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".partners AS p (tenant_id, partner_id, name, source_updated_at)
            SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:names AS text[]),
                                 CAST(:stamps AS timestamptz[]))
            ON CONFLICT (tenant_id, partner_id) DO UPDATE
            SET name = EXCLUDED.name, source_updated_at = EXCLUDED.source_updated_at
            WHERE p.source_updated_at <= EXCLUDED.source_updated_at
            """
        ),
        {
            "tenants": [t for (t, _), _ in rows],
            "ids": [p for (_, p), _ in rows],
            "names": [s.name for _, s in rows],
            "stamps": [s.updated_at for _, s in rows],
        },
    )


async def _invoices_to_attribute(
    session: AsyncSession, rm: ReadModel, customers: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Of these customers, those with an invoice whose partner or country is not the one it should take."""
    found = await session.execute(
        text(
            f"""
            SELECT DISTINCT i.tenant_id, i.customer_id
            FROM unnest(CAST(:tenants AS text[]), CAST(:customers AS text[])) AS k(tenant_id, customer_id)
            JOIN "{rm.schema}".invoices i ON i.tenant_id = k.tenant_id AND i.customer_id = k.customer_id
            JOIN "{rm.schema}".customers c ON c.tenant_id = i.tenant_id AND c.customer_id = i.customer_id
            WHERE i.partner_id IS DISTINCT FROM coalesce(i.invoice_partner_id, c.partner_id)
               OR i.billing_country IS DISTINCT FROM coalesce(i.invoice_billing_country, c.billing_country)
            ORDER BY 1, 2
            """
        ),
        {"tenants": [t for t, _ in customers], "customers": [c for _, c in customers]},
    )
    return [(r[0], r[1]) for r in found.all()]


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


async def subscribers_created(
    session: AsyncSession, rm: ReadModel, created: Sequence[tuple[str, ev.SubscriberCreated]]
) -> None:
    """SubscriberCreated events of a batch, as if one by one: the last one of a subscriber gives its fields,
    and the status is the stored one if any (a status event already seen is newer than the status a subscriber
    is created with), else the first one's."""
    last: dict[tuple[str, str], ev.SubscriberCreated] = {}
    first_status: dict[tuple[str, str], str] = {}
    for tenant, data in created:
        key = (tenant, data.subscriber_id)
        last[key] = data
        first_status.setdefault(key, data.status)
    rows = sorted(last.items())
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".subscribers AS s
                (tenant_id, subscriber_id, customer_id, username, plan_id, status, created_at)
            SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS text[]), CAST(:customers AS text[]),
                                 CAST(:usernames AS text[]), CAST(:plans AS text[]), CAST(:statuses AS text[]),
                                 CAST(:created AS timestamptz[]))
            ON CONFLICT (tenant_id, subscriber_id) DO UPDATE SET
                customer_id = EXCLUDED.customer_id, username = EXCLUDED.username, plan_id = EXCLUDED.plan_id,
                created_at = EXCLUDED.created_at, status = coalesce(s.status, EXCLUDED.status)
            """
        ),
        {
            "tenants": [t for (t, _), _ in rows],
            "ids": [i for (_, i), _ in rows],
            "customers": [d.customer_id for _, d in rows],
            "usernames": [d.username for _, d in rows],
            "plans": [d.plan_id for _, d in rows],
            "statuses": [first_status[k] for k, _ in rows],
            "created": [d.created_at for _, d in rows],
        },
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
