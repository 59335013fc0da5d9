"""Queries. Every one is filtered by tenant, except `all_clients`: the UDP workers map a source address to
its tenant, so they need the whole (small) client table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from radius_ingest.adapters.tables import nas_clients, nas_resets, sessions
from radius_ingest.domain.nas import NasClient

# --- NAS clients ---------------------------------------------------------------------------------


async def all_clients(conn: AsyncConnection | AsyncSession) -> list[NasClient]:
    c = nas_clients.c
    rows = (await conn.execute(select(c.tenant_id, c.nas_id, c.address, c.secret))).all()
    return [NasClient(r.tenant_id, r.nas_id, r.address, r.secret.encode()) for r in rows]


async def clients_version(conn: AsyncConnection) -> tuple[Any, ...]:
    """Changes whenever a client is added, changed or removed (cheap to poll)."""
    c = nas_clients.c
    row = (await conn.execute(select(func.count(), func.max(c.updated_at)))).one()
    return tuple(row)


async def list_clients(session: AsyncSession, tenant_id: str, *, limit: int, offset: int) -> Sequence[Any]:
    c = nas_clients.c
    query = select(nas_clients).where(c.tenant_id == tenant_id).order_by(c.nas_id)
    return (await session.execute(query.limit(limit).offset(offset))).all()


async def get_client(session: AsyncSession, tenant_id: str, nas_id: str) -> Any | None:
    c = nas_clients.c
    query = select(nas_clients).where(c.tenant_id == tenant_id, c.nas_id == nas_id)
    return (await session.execute(query)).first()


async def client_at(session: AsyncSession, address: str) -> Any | None:
    return (await session.execute(select(nas_clients).where(nas_clients.c.address == address))).first()


async def insert_client(
    session: AsyncSession, tenant_id: str, nas_id: str, address: str, secret: str, description: str | None
) -> None:
    await session.execute(
        nas_clients.insert().values(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            nas_id=nas_id,
            address=address,
            secret=secret,
            description=description,
        )
    )


async def update_client(session: AsyncSession, tenant_id: str, nas_id: str, **values: Any) -> None:
    c = nas_clients.c
    await session.execute(
        update(nas_clients).where(c.tenant_id == tenant_id, c.nas_id == nas_id).values(**values, updated_at=func.now())
    )


async def delete_client(session: AsyncSession, tenant_id: str, nas_id: str) -> int:
    c = nas_clients.c
    result = await session.execute(delete(nas_clients).where(c.tenant_id == tenant_id, c.nas_id == nas_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- session tracker -----------------------------------------------------------------------------


async def upsert_sessions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Newest state per session wins; a closed session stays closed."""
    if not rows:
        return
    stmt = pg_insert(sessions)
    ex = stmt.excluded
    s = sessions.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[s.tenant_id, s.session_key],
        set_={
            "last_event_time": ex.last_event_time,
            "last_event": ex.last_event,
            "closed": s.closed | ex.closed,
            "updated_at": func.now(),
        },
        where=(ex.last_event_time >= s.last_event_time) | ex.closed,
    )
    await session.execute(stmt, rows)


async def resets_for(
    session: AsyncSession, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], tuple[datetime, str]]:
    """The latest reset (time, reason) of each (tenant, nas_id, nas_ip) asked for."""
    if not keys:
        return {}
    r = nas_resets.c
    tenants = {k[0] for k in keys}
    query = select(r.tenant_id, r.nas_id, r.nas_ip_address, r.reset_at, r.reason).where(r.tenant_id.in_(tenants))
    found = {(row[0], row[1], row[2]): (row[3], row[4]) for row in (await session.execute(query)).all()}
    return {k: v for k, v in found.items() if k in keys}


async def record_reset(
    session: AsyncSession, tenant_id: str, nas_id: str, nas_ip: str, reset_at: datetime, reason: str
) -> None:
    stmt = pg_insert(nas_resets).values(
        tenant_id=tenant_id, nas_id=nas_id, nas_ip_address=nas_ip, reset_at=reset_at, reason=reason
    )
    r = nas_resets.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[r.tenant_id, r.nas_id, r.nas_ip_address],
        set_={"reset_at": stmt.excluded.reset_at, "reason": stmt.excluded.reason},
        where=stmt.excluded.reset_at > r.reset_at,
    )
    await session.execute(stmt)


async def open_sessions_before(
    session: AsyncSession, tenant_id: str, nas_id: str, nas_ip: str, moment: datetime
) -> Sequence[Any]:
    s = sessions.c
    query = (
        select(s.session_key, s.last_event)
        .where(
            s.tenant_id == tenant_id,
            s.nas_id == nas_id,
            s.nas_ip_address == nas_ip,
            s.closed.is_(False),
            s.last_event_time <= moment,
        )
        .order_by(s.session_key)
        .with_for_update()
    )
    return (await session.execute(query)).all()


async def open_sessions(
    session: AsyncSession, tenant_id: str, nas_id: str | None = None, *, limit: int, offset: int
) -> Sequence[Any]:
    s = sessions.c
    query = select(sessions).where(s.tenant_id == tenant_id, s.closed.is_(False))
    if nas_id is not None:
        query = query.where(s.nas_id == nas_id)
    query = query.order_by(s.last_event_time.desc(), s.session_key).limit(limit).offset(offset)
    return (await session.execute(query)).all()


async def close_sessions(session: AsyncSession, tenant_id: str, keys: list[str]) -> None:
    if keys:
        s = sessions.c
        await session.execute(
            update(sessions)
            .where(s.tenant_id == tenant_id, s.session_key.in_(keys))
            .values(closed=True, updated_at=func.now())
        )


async def forget_closed_sessions(session: AsyncSession, before: datetime) -> int:
    s = sessions.c
    result = await session.execute(delete(sessions).where(s.closed.is_(True), s.updated_at < before))
    return int(result.rowcount)  # type: ignore[attr-defined]
