"""Partners (resellers, agents) that customers may belong to: plain records of the tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.errors import Conflict, NotFound
from customers.adapters import repository as repo
from customers.service_layer.common import conflict, new_id, utcnow

_UNIQUE = {"uq_partners_tenant_id_name": ("name", "a partner with this name exists")}


async def create_partner(session: AsyncSession, tenant_id: str, name: str) -> Row[Any]:
    try:
        return await repo.insert_partner(session, tenant_id, new_id(), name, utcnow())
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc


async def get_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> Row[Any]:
    row = await repo.get_partner(session, tenant_id, partner_id)
    if row is None:
        raise NotFound(f"no partner {partner_id}")
    return row


async def rename_partner(session: AsyncSession, tenant_id: str, partner_id: str, name: str) -> Row[Any]:
    try:
        row = await repo.rename_partner(session, tenant_id, partner_id, name, utcnow())
    except IntegrityError as exc:
        raise conflict(exc, _UNIQUE) from exc
    if row is None:
        raise NotFound(f"no partner {partner_id}")
    return row


async def delete_partner(session: AsyncSession, tenant_id: str, partner_id: str) -> None:
    """Only a partner no customer refers to can go (move the customers to another partner first)."""
    if await repo.partner_has_customers(session, tenant_id, partner_id):
        raise Conflict(f"partner {partner_id} still has customers")
    if not await repo.delete_partner(session, tenant_id, partner_id):
        raise NotFound(f"no partner {partner_id}")
