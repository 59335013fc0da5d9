"""Use cases on NAS clients: register, change, remove, and the config-file bootstrap."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.db import Database
from bss_runtime.errors import Conflict, NotFound, RuleViolation
from radius_ingest.adapters import repository
from radius_ingest.domain.nas import normalise_address


@dataclass(frozen=True)
class ClientSpec:
    nas_id: str
    address: str
    secret: str
    description: str | None = None


def canonical(address: str) -> str:
    try:
        return normalise_address(address)
    except ValueError as exc:
        raise RuleViolation(f"not an IP address or CIDR block: {address!r}", field="address") from exc


async def _check_address_free(session: AsyncSession, address: str, tenant_id: str, nas_id: str) -> None:
    holder = await repository.client_at(session, address)
    if holder is not None and (holder.tenant_id, holder.nas_id) != (tenant_id, nas_id):
        # Do not tell one tenant which other tenant holds the address.
        raise Conflict(f"address {address} is already registered to another NAS client")


async def register(session: AsyncSession, tenant_id: str, spec: ClientSpec) -> None:
    address = canonical(spec.address)
    if await repository.get_client(session, tenant_id, spec.nas_id) is not None:
        raise Conflict(f"NAS client {spec.nas_id!r} exists already")
    await _check_address_free(session, address, tenant_id, spec.nas_id)
    await repository.insert_client(session, tenant_id, spec.nas_id, address, spec.secret, spec.description)


async def change(session: AsyncSession, tenant_id: str, nas_id: str, changes: dict[str, Any]) -> None:
    if await repository.get_client(session, tenant_id, nas_id) is None:
        raise NotFound(f"no NAS client {nas_id!r}")
    if "address" in changes:
        changes["address"] = canonical(changes["address"])
        await _check_address_free(session, changes["address"], tenant_id, nas_id)
    if changes:
        await repository.update_client(session, tenant_id, nas_id, **changes)


async def remove(session: AsyncSession, tenant_id: str, nas_id: str) -> None:
    if not await repository.delete_client(session, tenant_id, nas_id):
        raise NotFound(f"no NAS client {nas_id!r}")


def read_bootstrap(path: Path) -> list[tuple[str, ClientSpec]]:
    """`[[nas_client]]` tables with tenant_id, nas_id, address, secret and an optional description."""
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(document.get("nas_client", [])):
        missing = {"tenant_id", "nas_id", "address", "secret"} - entry.keys()
        if missing:
            raise ValueError(f"{path}: nas_client #{i + 1} lacks {', '.join(sorted(missing))}")
        spec = ClientSpec(str(entry["nas_id"]), str(entry["address"]), str(entry["secret"]), entry.get("description"))
        out.append((str(entry["tenant_id"]), spec))
    return out


async def bootstrap(database: Database, path: Path) -> int:
    """Upsert the file's clients (by tenant and NAS id); clients not in the file are left alone."""
    entries = read_bootstrap(path)
    async with database.transaction() as session:
        for tenant_id, spec in entries:
            if await repository.get_client(session, tenant_id, spec.nas_id) is None:
                await register(session, tenant_id, spec)
            else:
                await change(
                    session,
                    tenant_id,
                    spec.nas_id,
                    {"address": spec.address, "secret": spec.secret, "description": spec.description},
                )
    return len(entries)
