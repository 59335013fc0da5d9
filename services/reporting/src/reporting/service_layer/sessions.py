"""RADIUS sessions into the read model: one row per session (rules in domain/sessions.py), and the hourly
and daily rollups kept equal to the sum over the rows by moving each row's contribution whenever the row
changes. Session events arrive in batches and are applied set-based (`session_events`); a NAS reset closes
its sessions with one statement (`nas_reset`)."""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts.events import radius as ev
from reporting.adapters.partitions import SessionPartitions, month_of
from reporting.adapters.tables import ReadModel
from reporting.analytics.domain.concurrency import SessionSpan, session_interval
from reporting.analytics.service_layer.concurrency import apply_moves
from reporting.domain.sessions import START_DRIFT, NasReset, RowChange, SessionRow, fold, reset_lookup

SessionEvent = ev.SessionStarted | ev.SessionUpdated | ev.SessionStopped
_ROW_FIELDS = list(SessionRow._fields)


def row_from_event(data: SessionEvent) -> SessionRow:
    """The row one event gives. A Stop radius-ingest synthesised for a NAS reset gives the last counters only:
    the reset itself (recorded from the same event) closes the row, by the NAS rule."""
    stopped = isinstance(data, ev.SessionStopped) and data.closed_by_nas_reset is None
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
        terminate_cause=data.terminate_cause if stopped else None,  # type: ignore[union-attr]
    )


def span(row: SessionRow | None) -> SessionSpan | None:
    """The time the session counts as online (concurrency)."""
    return None if row is None else session_interval(row.nas_id, row.start_time, row.stop_time, row.event_time)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def session_events(
    session: AsyncSession,
    rm: ReadModel,
    partitions: SessionPartitions,
    events: Sequence[tuple[str, SessionEvent]],
    now: datetime,
) -> None:
    """Apply (tenant, event) pairs, in order, as if one by one: read the rows they concern and their NASes'
    resets in two statements, fold the events in memory (domain.sessions.fold), then write every changed row
    with one upsert and the rollups' net changes with one upsert per rollup."""
    reported = _resets_reported_by_stops(events)
    for tenant, reset in sorted(reported, key=lambda r: (r[0], r[1].nas_id, r[1].event_time, r[1].reason)):
        await nas_reset(session, rm, tenant, reset, now)
    incoming = [(tenant, row_from_event(data)) for tenant, data in events]
    starts = [row.start_time for _, row in incoming]
    lo, hi = min(starts), max(starts)
    cutoff = partitions.cutoff(now)
    if lo < cutoff:  # past retention: they would be dropped with their partition anyway
        incoming = [(tenant, row) for tenant, row in incoming if row.start_time >= cutoff]
        if not incoming:
            return
        lo = min(row.start_time for _, row in incoming)
    lo, hi = lo - START_DRIFT, hi + START_DRIFT
    keys = sorted({(tenant, row.session_key) for tenant, row in incoming})
    stored = await _stored_rows(session, rm, keys, lo, hi)
    nases = sorted({(tenant, row.nas_id) for tenant, row in [*incoming, *stored]})
    resets = await _resets_after(session, rm, nases, lo)
    changes = fold(stored, incoming, reset_lookup(resets))
    if not changes:
        return
    for month in sorted({month_of(c.after.start_time) for c in changes if c.before is None}):
        await partitions.ensure(session, month)
    changes.sort(key=lambda c: (c.tenant_id, c.after.session_key, c.after.start_time))  # one lock order
    await _upsert_rows(session, rm, changes)
    await apply_moves(session, rm.schema, [(c.tenant_id, span(c.before), span(c.after)) for c in changes], now)
    hours: dict[tuple[str, datetime], list[int]] = {}
    usage: dict[tuple[str, str, date], list[int]] = {}
    for c in changes:
        for counted, sign in ((c.before, -1), (c.after, 1)):
            if counted is not None:
                sums = hours.setdefault((c.tenant_id, hour_of(counted.time)), [0, 0, 0, 0])
                used = usage.setdefault((c.tenant_id, counted.username, counted.time.astimezone(UTC).date()), [0] * 4)
                figures = (1, counted.input_octets, counted.output_octets, counted.session_time_seconds)
                for i, value in enumerate(figures):
                    sums[i] += sign * value
                    used[i] += sign * value
    await _add_to_rollups(session, rm, hours)
    await _add_to_usage(session, rm, usage)


def _resets_reported_by_stops(
    events: Sequence[tuple[str, SessionEvent]],
) -> set[tuple[str, ev.NasAccountingOn | ev.NasAccountingOff]]:
    """The NAS resets that radius-ingest's synthesised Stops speak of (many Stops, one reset each)."""
    resets: set[tuple[str, ev.NasAccountingOn | ev.NasAccountingOff]] = set()
    for tenant, data in events:
        if isinstance(data, ev.SessionStopped) and data.closed_by_nas_reset is not None:
            kind = ev.NasAccountingOn if data.closed_by_nas_reset == "accounting-on" else ev.NasAccountingOff
            resets.add(
                (
                    tenant,
                    kind(
                        nas_id=data.nas_id,
                        nas_ip_address=data.nas_ip_address,
                        event_time=data.event_time,
                        reason=data.closed_by_nas_reset,
                    ),
                )
            )
    return resets


async def _stored_rows(
    session: AsyncSession, rm: ReadModel, keys: Sequence[tuple[str, str]], lo: datetime, hi: datetime
) -> list[tuple[str, SessionRow]]:
    columns = ", ".join(f"s.{name}" for name in _ROW_FIELDS)
    found = await session.execute(
        text(
            f"""
            SELECT s.tenant_id, {columns}
            FROM "{rm.schema}".sessions s
            JOIN unnest(CAST(:tenants AS text[]), CAST(:keys AS text[])) AS k(tenant_id, session_key)
              ON s.tenant_id = k.tenant_id AND s.session_key = k.session_key
            WHERE s.start_time BETWEEN :lo AND :hi
            ORDER BY s.tenant_id, s.session_key, s.start_time
            FOR UPDATE OF s
            """
        ),
        {"tenants": [t for t, _ in keys], "keys": [k for _, k in keys], "lo": lo, "hi": hi},
    )
    return [(r[0], SessionRow(*r[1:])) for r in found.all()]


async def _resets_after(
    session: AsyncSession, rm: ReadModel, nases: Sequence[tuple[str, str]], after: datetime
) -> list[tuple[str, str, NasReset]]:
    found = await session.execute(
        text(
            f"""
            SELECT r.tenant_id, r.nas_id, r.event_time, r.reason
            FROM "{rm.schema}".nas_resets r
            JOIN unnest(CAST(:tenants AS text[]), CAST(:nases AS text[])) AS n(tenant_id, nas_id)
              ON r.tenant_id = n.tenant_id AND r.nas_id = n.nas_id
            WHERE r.event_time > :after
            """
        ),
        {"tenants": [t for t, _ in nases], "nases": [n for _, n in nases], "after": after},
    )
    return [(r[0], r[1], NasReset(r[2], ev.TERMINATE_CAUSE_OF_RESET[r[3]])) for r in found.all()]


# The columns of a session row and the array type each is sent as.
_ROW_TYPES = {
    **dict.fromkeys(["tenant_id", "session_key", "username", "acct_session_id", "nas_id", "nas_ip_address"], "text"),
    **dict.fromkeys(["framed_ip_address", "framed_ipv6_prefix", "delegated_ipv6_prefix"], "text"),
    **dict.fromkeys(["calling_station_id", "stop_source", "terminate_cause"], "text"),
    **dict.fromkeys(["start_time", "event_time", "time", "stop_time"], "timestamptz"),
    **dict.fromkeys(["session_time_seconds", "input_octets", "output_octets"], "bigint"),
}


async def _upsert_rows(session: AsyncSession, rm: ReadModel, changes: Sequence[RowChange]) -> None:
    names = list(_ROW_TYPES)
    arrays = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in _ROW_TYPES.items())
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in ("tenant_id", "session_key", "start_time"))
    params: dict[str, list[object]] = {n: [] for n in names}
    for c in changes:
        params["tenant_id"].append(c.tenant_id)
        params["time"].append(c.after.time)
        for name in _ROW_FIELDS:
            params[name].append(getattr(c.after, name))
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".sessions ({", ".join(names)})
            SELECT * FROM unnest({arrays})
            ON CONFLICT (tenant_id, session_key, start_time) DO UPDATE SET {updates}
            """
        ),
        params,
    )


async def _add_to_usage(session: AsyncSession, rm: ReadModel, usage: dict[tuple[str, str, date], list[int]]) -> None:
    """Add net changes to the per-subscriber daily and monthly usage (one upsert each); rows left with no
    session go."""
    months: dict[tuple[str, str, date], list[int]] = {}
    for (tenant, username, day), sums in usage.items():
        month = months.setdefault((tenant, username, day.replace(day=1)), [0, 0, 0, 0])
        for i, value in enumerate(sums):
            month[i] += value
    await _add_per_user(session, rm, "usage_days", "day", usage)
    await _add_per_user(session, rm, "usage_months", "month", months)


async def _add_per_user(
    session: AsyncSession, rm: ReadModel, table: str, key: str, deltas: dict[tuple[str, str, date], list[int]]
) -> None:
    moved = sorted((k, v) for k, v in deltas.items() if any(v))
    if not moved:
        return
    keys: dict[str, list[Any]] = {
        "tenants": [k[0] for k, _ in moved],
        "users": [k[1] for k, _ in moved],
        "keys": [k[2] for k, _ in moved],
    }
    sums = {c: [v[i] for _, v in moved] for i, c in enumerate(("n", "i", "o", "t"))}
    await session.execute(
        text(
            f"""
            INSERT INTO "{rm.schema}".{table} AS u
                (tenant_id, username, {key}, sessions, input_octets, output_octets, session_time_seconds)
            SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:users AS text[]), CAST(:keys AS date[]),
                                 CAST(:n AS bigint[]), CAST(:i AS bigint[]), CAST(:o AS bigint[]), CAST(:t AS bigint[]))
            ON CONFLICT (tenant_id, username, {key}) DO UPDATE SET
                sessions = u.sessions + EXCLUDED.sessions,
                input_octets = u.input_octets + EXCLUDED.input_octets,
                output_octets = u.output_octets + EXCLUDED.output_octets,
                session_time_seconds = u.session_time_seconds + EXCLUDED.session_time_seconds
            """
        ),
        keys | sums,
    )
    if all(v[0] >= 0 for _, v in moved):
        return  # a row can only come to zero sessions by losing some
    await session.execute(
        text(
            f"""
            DELETE FROM "{rm.schema}".{table} u
            USING unnest(CAST(:tenants AS text[]), CAST(:users AS text[]), CAST(:keys AS date[])) AS k(t, n, d)
            WHERE (u.tenant_id, u.username, u.{key}) = (k.t, k.n, k.d) AND u.sessions = 0
            """
        ),
        {name: [x for x, (_, v) in zip(values, moved, strict=True) if v[0] < 0] for name, values in keys.items()},
    )


async def _add_to_rollups(session: AsyncSession, rm: ReadModel, hours: dict[tuple[str, datetime], list[int]]) -> None:
    """Add net changes to the hourly and daily rollups (one upsert each); rows left with no session go."""
    days: dict[tuple[str, date], list[int]] = {}
    for (tenant, hour), sums in hours.items():
        day = days.setdefault((tenant, hour.date()), [0, 0, 0, 0])
        for i, value in enumerate(sums):
            day[i] += value
    for table, key, kind, deltas in (
        ("session_hours", "hour", "timestamptz", dict(hours)),
        ("session_days", "day", "date", dict(days)),
    ):
        moved = sorted((k, v) for k, v in deltas.items() if any(v))
        if not moved:
            continue
        params = {
            "tenants": [t for (t, _), _ in moved],
            "keys": [k for (_, k), _ in moved],
            **{c: [v[i] for _, v in moved] for i, c in enumerate(("n", "i", "o", "t"))},
        }
        await session.execute(
            text(
                f"""
                INSERT INTO "{rm.schema}".{table}
                    (tenant_id, {key}, sessions, input_octets, output_octets, session_time_seconds)
                SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:keys AS {kind}[]), CAST(:n AS bigint[]),
                                     CAST(:i AS bigint[]), CAST(:o AS bigint[]), CAST(:t AS bigint[]))
                ON CONFLICT (tenant_id, {key}) DO UPDATE SET
                    sessions = {table}.sessions + EXCLUDED.sessions,
                    input_octets = {table}.input_octets + EXCLUDED.input_octets,
                    output_octets = {table}.output_octets + EXCLUDED.output_octets,
                    session_time_seconds = {table}.session_time_seconds + EXCLUDED.session_time_seconds
                """
            ),
            params,
        )
        if all(v[0] >= 0 for _, v in moved):
            continue  # a row can only come to zero sessions by losing some
        await session.execute(
            text(
                f"""
                DELETE FROM "{rm.schema}".{table} r
                USING unnest(CAST(:tenants AS text[]), CAST(:keys AS {kind}[])) AS k(tenant_id, {key})
                WHERE r.tenant_id = k.tenant_id AND r.{key} = k.{key} AND r.sessions = 0
                """
            ),
            {"tenants": params["tenants"], "keys": params["keys"]},
        )


async def nas_reset(
    session: AsyncSession, rm: ReadModel, tenant: str, data: ev.NasAccountingOn | ev.NasAccountingOff, now: datetime
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
                SELECT session_key, start_time, time AS old_time, stop_time AS old_stop
                FROM "{schema}".sessions
                WHERE tenant_id = :tenant AND nas_id = :nas AND start_time < :reset
                  AND stop_source IS DISTINCT FROM 'stop' AND (stop_source IS NULL OR stop_time > :reset)
                FOR UPDATE
            ), closed AS (
                UPDATE "{schema}".sessions s
                SET stop_source = 'nas', stop_time = :reset, time = :reset, terminate_cause = :cause
                FROM target t
                WHERE s.tenant_id = :tenant AND s.session_key = t.session_key AND s.start_time = t.start_time
                RETURNING t.old_time, s.input_octets, s.output_octets, s.session_time_seconds,
                          s.nas_id, s.start_time, t.old_stop, s.event_time, s.username
            )
            SELECT * FROM closed
            """
        ),
        {"tenant": tenant, "nas": data.nas_id, "reset": data.event_time, "cause": data.terminate_cause},
    )
    hours: dict[tuple[str, datetime], list[int]] = {}
    arrive = hours.setdefault((tenant, hour_of(data.event_time)), [0, 0, 0, 0])
    moves = []
    usage: dict[tuple[str, str, date], list[int]] = {}
    reset_day = data.event_time.astimezone(UTC).date()
    for old_time, octets_in, octets_out, seconds, nas, start, old_stop, last_record, username in moved.all():
        leave = hours.setdefault((tenant, hour_of(old_time)), [0, 0, 0, 0])
        left = usage.setdefault((tenant, username, old_time.astimezone(UTC).date()), [0] * 4)
        arrived = usage.setdefault((tenant, username, reset_day), [0] * 4)
        for i, value in enumerate((1, octets_in, octets_out, seconds)):
            leave[i] -= value
            arrive[i] += value
            left[i] -= value
            arrived[i] += value
        before = session_interval(nas, start, old_stop, last_record)
        moves.append((tenant, before, session_interval(nas, start, data.event_time, last_record)))
    await _add_to_rollups(session, rm, hours)
    await _add_to_usage(session, rm, usage)
    await apply_moves(session, rm.schema, moves, now)
