"""Sessions' intervals into the concurrency read model (rules in domain/concurrency.py): the moved level changes
are added per instant, the month and day nets moved by the same amounts, and each hour they fall in summarized
again from its changes. A fixed number of statements per batch of sessions, whatever its size."""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.analytics.domain.concurrency import (
    GRAINS,
    ChangeKey,
    SessionSpan,
    bucket_start,
    level_changes,
    summarize_hour,
)
from reporting.analytics.service_layer.online import add_changes

Move = tuple[str, SessionSpan | None, SessionSpan | None]  # tenant, the session's span before and after


async def apply_moves(session: AsyncSession, schema: str, moves: Iterable[Move], now: datetime) -> None:
    """Write the level changes of sessions whose spans moved, the buckets they fall in, and the online counters
    (service_layer/online.py); `now` is the apply's clock (a new counter row's `as_of`)."""
    changes = level_changes(moves)
    if not changes:
        return
    keys = sorted(changes)  # one lock order
    columns = {"t": [k[0] for k in keys], "n": [k[1] for k in keys], "a": [k[2] for k in keys]}
    await session.execute(
        text(
            f"""
            INSERT INTO "{schema}".concurrency_changes AS c (tenant_id, nas_id, at, change)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:a AS timestamptz[]), CAST(:d AS int[]))
            ON CONFLICT (tenant_id, nas_id, at) DO UPDATE SET change = c.change + EXCLUDED.change
            """
        ),
        {**columns, "d": [changes[k] for k in keys]},
    )
    await session.execute(
        text(
            f"""
            DELETE FROM "{schema}".concurrency_changes c
            USING unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:a AS timestamptz[])) AS k(tenant_id, nas_id, at)
            WHERE (c.tenant_id, c.nas_id, c.at) = (k.tenant_id, k.nas_id, k.at) AND c.change = 0
            """
        ),
        columns,
    )
    await _add_nets(session, schema, changes)
    await _summarize_hours(session, schema, sorted({(t, n, bucket_start(a, "hour")) for t, n, a in keys}))
    await add_changes(session, schema, changes, now)


async def _add_nets(session: AsyncSession, schema: str, changes: dict[ChangeKey, int]) -> None:
    """Move the month and day buckets' nets by the changes (one upsert, one delete of the buckets left at 0)."""
    nets: dict[tuple[str, str, str, datetime], int] = defaultdict(int)
    for (tenant, nas, at), change in changes.items():
        for grain in GRAINS[:2]:
            nets[(tenant, grain, nas, bucket_start(at, grain))] += change
    moved = sorted((key, net) for key, net in nets.items() if net)
    if not moved:
        return
    keys = {
        "t": [k[0] for k, _ in moved],
        "g": [k[1] for k, _ in moved],
        "n": [k[2] for k, _ in moved],
        "b": [k[3] for k, _ in moved],
    }
    await session.execute(
        text(
            f"""
            INSERT INTO "{schema}".concurrency_buckets AS b (tenant_id, grain, nas_id, bucket_start, net)
            SELECT * FROM unnest(CAST(:t AS text[]), CAST(:g AS text[]), CAST(:n AS text[]),
                                 CAST(:b AS timestamptz[]), CAST(:d AS int[]))
            ON CONFLICT (tenant_id, grain, nas_id, bucket_start) DO UPDATE SET net = b.net + EXCLUDED.net
            """
        ),
        keys | {"d": [net for _, net in moved]},
    )
    await session.execute(
        text(
            f"""
            DELETE FROM "{schema}".concurrency_buckets b
            USING unnest(CAST(:t AS text[]), CAST(:g AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[]))
                AS k(t, g, n, b)
            WHERE (b.tenant_id, b.grain, b.nas_id, b.bucket_start) = (k.t, k.g, k.n, k.b) AND b.net = 0
            """
        ),
        keys,
    )


async def _summarize_hours(session: AsyncSession, schema: str, hours: list[tuple[str, str, datetime]]) -> None:
    found = await session.execute(
        text(
            f"""
            SELECT h.t, h.n, h.b, c.at, c.change
            FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[])) AS h(t, n, b)
            JOIN "{schema}".concurrency_changes c
              ON c.tenant_id = h.t AND c.nas_id = h.n AND c.at >= h.b AND c.at < h.b + interval '1 hour'
            """
        ),
        {"t": [h[0] for h in hours], "n": [h[1] for h in hours], "b": [h[2] for h in hours]},
    )
    within: dict[tuple[str, str, datetime], list[tuple[datetime, int]]] = defaultdict(list)
    for tenant, nas, hour, at, change in found.all():
        within[(tenant, nas, hour)].append((at, change))
    kept = sorted(within)
    if kept:
        summaries = [summarize_hour(hour, within[(tenant, nas, hour)]) for tenant, nas, hour in kept]
        await session.execute(
            text(
                f"""
                INSERT INTO "{schema}".concurrency_buckets AS b
                    (tenant_id, grain, nas_id, bucket_start, net, peak, peak_at)
                SELECT k.t, 'hour', k.n, k.b, k.net, k.peak, k.at
                FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[]), CAST(:net AS int[]),
                            CAST(:peak AS int[]), CAST(:at AS timestamptz[])) AS k(t, n, b, net, peak, at)
                ON CONFLICT (tenant_id, grain, nas_id, bucket_start)
                DO UPDATE SET net = EXCLUDED.net, peak = EXCLUDED.peak, peak_at = EXCLUDED.peak_at
                """
            ),
            {
                "t": [k[0] for k in kept],
                "n": [k[1] for k in kept],
                "b": [k[2] for k in kept],
                "net": [s.net for s in summaries],
                "peak": [s.peak for s in summaries],
                "at": [s.peak_at for s in summaries],
            },
        )
    emptied = [h for h in hours if h not in within]  # every change of the hour cancelled out
    if emptied:
        await session.execute(
            text(
                f"""
                DELETE FROM "{schema}".concurrency_buckets b
                USING unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[])) AS k(t, n, b)
                WHERE (b.tenant_id, b.grain, b.nas_id, b.bucket_start) = (k.t, 'hour', k.n, k.b)
                """
            ),
            {"t": [h[0] for h in emptied], "n": [h[1] for h in emptied], "b": [h[2] for h in emptied]},
        )
