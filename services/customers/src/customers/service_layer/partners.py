"""Partners (resellers, agents) that customers may belong to: records of the tenant.

PartnerCreated and PartnerUpdated carry the partner's whole state (a compacted topic), staged in the outbox in the
caller's transaction, so that reporting can show partner names. A deleted partner is not announced: only a partner
no customer refers to can go, so no report shows it any more.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events.customers import PartnerCreated, PartnerState, PartnerUpdated
from bss_runtime.errors import Conflict, NotFound
from bss_runtime.outbox import EventWriter
from customers.adapters import repository as repo
from customers.service_layer.common import conflict, new_id, utcnow

_UNIQUE = {"uq_partners_tenant_id_name": ("name", "a partner with this name exists")}


def partner_state(row: Row[Any]) -> PartnerState:
    return PartnerState(partner_id=row.id, name=row.name, created_at=row.created_at, updated_at=row.updated_at)


async def create_partner(session: AsyncSession, events: EventWriter, tenant_id: str, name: str) -> Row[Any]:
    try:
        row = await repo.insert_partner(session, tenant_id, new_id(), name, utcnow())
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    await events.add(session, PartnerCreated(partner_id=row.id, partner=partner_state(row)), tenant_id=tenant_id)
    return row


async def get_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> Row[Any]:
    row = await repo.get_partner(session, tenant_id, partner_id)
    if row is None:
        raise NotFound(f"no partner {partner_id}")
    return row


async def rename_partner(
    session: AsyncSession, events: EventWriter, tenant_id: str, partner_id: str, name: str
) -> Row[Any]:
    """A rename to the same name changes nothing and is not announced."""
    current = await get_partner(session, tenant_id, partner_id)
    if current.name == name:
        return current
    try:
        row = await repo.rename_partner(session, tenant_id, partner_id, name, utcnow())
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    if row is None:
        raise NotFound(f"no partner {partner_id}")
    event = PartnerUpdated(partner_id=partner_id, partner=partner_state(row), changed_fields=("name",))
    await events.add(session, event, tenant_id=tenant_id)
    return row


async def delete_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> None:
    """Only a partner no customer refers to can go (move the customers to another partner first)."""
    if await repo.partner_has_customers(session, tenant_id, partner_id):
        raise Conflict(f"partner {partner_id} still has customers")
    if not await repo.delete_partner(session, tenant_id, partner_id):
        raise NotFound(f"no partner {partner_id}")
