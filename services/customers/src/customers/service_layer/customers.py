"""Use cases on customers: each runs in the caller's transaction and stages its event in the outbox.

CustomerCreated and CustomerUpdated carry the customer's whole state: the topic is compacted, so the latest
event of a customer is all a consumer ever needs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.customers import CustomerCreated, CustomerState, CustomerUpdated
from bss_runtime.errors import NotFound, RuleViolation
from bss_runtime.outbox import EventWriter
from customers.adapters import repository as repo
from customers.service_layer.common import conflict, new_id, utcnow

_UNIQUE = {"uq_customer_static_ip": ("static_ip_assigned", "this IPv4 address is assigned to another customer")}


async def _require_partner(session: AsyncSession, tenant_id: str, partner_id: str | None) -> None:
    if partner_id is not None and await repo.get_partner(session, tenant_id, partner_id) is None:
        raise RuleViolation(f"unknown partner {partner_id!r}", field="partner_id")


async def create_customer(
    session: AsyncSession, events: EventWriter, tenant_id: str, values: dict[str, Any]
) -> CustomerState:
    """`values`: API field values (validated)."""
    await _require_partner(session, tenant_id, values.get("partner_id"))
    now = utcnow()
    columns = repo.customer_columns(values) | {"created_at": now, "updated_at": now}
    try:
        row = await repo.insert_customer(session, tenant_id, new_id(), columns)
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    state = repo.customer_state(row)
    await events.add(session, CustomerCreated(customer_id=state.customer_id, customer=state), tenant_id=tenant_id)
    return state


async def get_customer(session: AsyncSession, tenant_id: str, customer_id: str) -> CustomerState:
    row = await repo.get_customer(session, tenant_id, customer_id)
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    return repo.customer_state(row)


async def update_customer(
    session: AsyncSession, events: EventWriter, tenant_id: str, customer_id: str, values: dict[str, Any]
) -> CustomerState:
    """Change the fields in `values`; a change that changes nothing is not announced."""
    row = await repo.get_customer(session, tenant_id, customer_id, lock=True)
    if row is None:
        raise NotFound(f"no customer {customer_id}")
    current = row._mapping
    changed = {col: v for col, v in repo.customer_columns(values).items() if current[col] != v}
    if not changed:
        return repo.customer_state(row)
    if "partner_id" in changed:
        await _require_partner(session, tenant_id, changed["partner_id"])
    try:
        row = await repo.update_customer(session, tenant_id, customer_id, changed | {"updated_at": utcnow()})
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    state = repo.customer_state(row)
    fields = tuple(dict.fromkeys(repo.field_of(col) for col in changed))
    await events.add(
        session, CustomerUpdated(customer_id=customer_id, customer=state, changed_fields=fields), tenant_id=tenant_id
    )
    return state
