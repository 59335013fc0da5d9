"""RADIUS sessions into the read model: one row per session (rules in domain/sessions.py), and the hourly
rollup kept equal to the sum over the rows by moving each row's contribution whenever the row changes."""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import radius as ev
from reporting.adapters.partitions import SessionPartitions, month_of
from reporting.adapters.tables import ReadModel
from reporting.domain.sessions import NAS_RESET_CAUSE, SessionRow, close_by_nas, merge

# session_start_time is computed by the NAS or radius-ingest and may differ by seconds between the events of
# one session; the row keeps the first one, and is found again within this window.
START_DRIFT = timedelta(days=1)
SessionEvent = ev.SessionStarted | ev.SessionUpdated | ev.SessionStopped
_ROW_FIELDS = [f.name for f in fields(SessionRow)]


def row_from_event(data: SessionEvent) -> SessionRow:
    stopped = isinstance(data, ev.SessionStopped)
    return SessionRow(
        session_key=data.session_key,
        start_time=data.session_start_time,
        username=data.username,
        acct_session_id=data.acct_session_id,
        nas_id=data.nas_id,
        nas_ip_address=data.nas_ip_address,
        framed_ip_address=data.framed_ip_address,
        framed_ipv6_prefix=data.framed_ipv6_prefix,
        delegated_ipv6_prefix=data.delegated_ipv6_prefix,
        calling_station_id=data.calling_station_id,
        event_time=data.event_time,
        session_time_seconds=data.session_time_seconds,
        input_octets=data.input_octets,
        output_octets=data.output_octets,
        stop_source="stop" if stopped else None,
        stop_time=data.event_time if stopped else None,
        terminate_cause=data.terminate_cause if isinstance(data, ev.SessionStopped) else None,
    )


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def session_event(
    session: AsyncSession,
    rm: ReadModel,
    partitions: SessionPartitions,
    tenant: str,
    data: SessionEvent,
    now: datetime,
) -> None:
    incoming = row_from_event(data)
    if incoming.start_time < partitions.cutoff(now):
        return  # past retention: it would be dropped with its partition anyway
    s = rm.sessions
    found = (
        await session.execute(
            select(*[s.c[name] for name in _ROW_FIELDS])
            .where(
                s.c.tenant_id == tenant,
                s.c.session_key == incoming.session_key,
                s.c.start_time.between(incoming.start_time - START_DRIFT, incoming.start_time + START_DRIFT),
            )
            .with_for_update()
        )
    ).first()
    current = SessionRow(**found._asdict()) if found else None
    merged = merge(current, incoming)
    if merged is None:
        return
    merged = close_by_nas(merged, await _earliest_reset_after(session, rm, tenant, merged.nas_id, merged.start_time))
    if merged == current:
        return
    values = {name: getattr(merged, name) for name in _ROW_FIELDS} | {"time": merged.time}
    if current is None:
        await partitions.ensure(session, month_of(merged.start_time))
        await session.execute(insert(s).values(tenant_id=tenant, **values))
    else:
        await session.execute(
            update(s)
            .where(
                s.c.tenant_id == tenant, s.c.session_key == current.session_key, s.c.start_time == current.start_time
            )
            .values(**values)
        )
    await _move_in_hours(session, rm, tenant, current, merged)


async def nas_reset(
    session: AsyncSession, rm: ReadModel, tenant: str, data: ev.NasAccountingOn | ev.NasAccountingOff
) -> None:
    r = rm.nas_resets
    fresh = await session.scalar(
        pg_insert(r)
        .values(tenant_id=tenant, nas_id=data.nas_id, event_time=data.event_time, reason=data.reason)
        .on_conflict_do_nothing()
        .returning(r.c.nas_id)
    )
    if fresh is None:
        return
    # Close the NAS's sessions that started before the reset and are not closed earlier; move their
    # contribution in the rollup from the hour of their last record to the hour of the reset.
    schema = rm.schema
    moved = await session.execute(
        text(
            f"""
            WITH target AS (
                SELECT session_key, start_time, time AS old_time
                FROM "{schema}".sessions
                WHERE tenant_id = :tenant AND nas_id = :nas AND start_time < :reset
                  AND stop_source IS DISTINCT FROM 'stop' AND (stop_source IS NULL OR stop_time > :reset)
                FOR UPDATE
            ), closed AS (
                UPDATE "{schema}".sessions s
                SET stop_source = 'nas', stop_time = :reset, time = :reset, terminate_cause = :cause
                FROM target t
                WHERE s.tenant_id = :tenant AND s.session_key = t.session_key AND s.start_time = t.start_time
                RETURNING t.old_time, s.input_octets, s.output_octets, s.session_time_seconds
            )
            SELECT date_trunc('hour', old_time, 'UTC') AS hour, count(*) AS n, sum(input_octets) AS i,
                   sum(output_octets) AS o, sum(session_time_seconds) AS t
            FROM closed GROUP BY 1
            """
        ),
        {"tenant": tenant, "nas": data.nas_id, "reset": data.event_time, "cause": NAS_RESET_CAUSE},
    )
    totals = [0, 0, 0, 0]
    for hour, *sums in moved.all():
        await _add_to_hour(session, rm, tenant, hour, *(-int(v) for v in sums))
        totals = [a + int(b) for a, b in zip(totals, sums, strict=True)]
    if totals[0]:
        await _add_to_hour(session, rm, tenant, hour_of(data.event_time), *totals)


async def _add_to_hour(
    session: AsyncSession,
    rm: ReadModel,
    tenant: str,
    hour: datetime,
    sessions: int,
    input_octets: int,
    output_octets: int,
    session_time_seconds: int,
) -> None:
    """Add to one hour, and its day, of the rollups (negative numbers take away); a row left with no session
    goes."""
    sums = {
        "sessions": sessions,
        "input_octets": input_octets,
        "output_octets": output_octets,
        "session_time_seconds": session_time_seconds,
    }
    for table, key, value in ((rm.session_hours, "hour", hour), (rm.session_days, "day", hour.date())):
        stmt = pg_insert(table).values(tenant_id=tenant, **{key: value}, **sums)
        remaining = await session.scalar(
            stmt.on_conflict_do_update(
                index_elements=[table.c.tenant_id, table.c[key]],
                set_={c: table.c[c] + stmt.excluded[c] for c in sums},
            ).returning(table.c.sessions)
        )
        if remaining == 0:
            await session.execute(delete(table).where(table.c.tenant_id == tenant, table.c[key] == value))


async def _move_in_hours(
    session: AsyncSession, rm: ReadModel, tenant: str, old: SessionRow | None, new: SessionRow
) -> None:
    if old is not None:
        await _add_to_hour(
            session, rm, tenant, hour_of(old.time), -1, -old.input_octets, -old.output_octets, -old.session_time_seconds
        )
    await _add_to_hour(
        session, rm, tenant, hour_of(new.time), 1, new.input_octets, new.output_octets, new.session_time_seconds
    )


async def _earliest_reset_after(
    session: AsyncSession, rm: ReadModel, tenant: str, nas_id: str, start: datetime
) -> datetime | None:
    r = rm.nas_resets
    result: datetime | None = await session.scalar(
        select(func.min(r.c.event_time)).where(r.c.tenant_id == tenant, r.c.nas_id == nas_id, r.c.event_time > start)
    )
    return result
