"""Sessions' intervals into the concurrency read model (rules in domain/concurrency.py): the moved level changes
are added per instant, the month and day nets moved by the same amounts, each hour they fall in summarized
again from its changes (in the database), and the online counters moved (service_layer/online.py). A fixed
number of statements per batch of sessions, whatever its size; rows are deleted only when some came to zero."""

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
    emptied = await session.execute(
        text(
            f"""
            WITH up AS (
                INSERT INTO "{schema}".concurrency_changes AS c (tenant_id, nas_id, at, change)
                SELECT * FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:a AS timestamptz[]),
                                     CAST(:d AS int[]))
                ON CONFLICT (tenant_id, nas_id, at) DO UPDATE SET change = c.change + EXCLUDED.change
                RETURNING tenant_id, nas_id, at, change)
            SELECT tenant_id, nas_id, at FROM up WHERE change = 0
            """
        ),
        {**columns, "d": [changes[k] for k in keys]},
    )
    gone = emptied.all()
    if gone:  # instants whose changes now cancel out
        await session.execute(
            text(
                f"""
                DELETE FROM "{schema}".concurrency_changes c
                USING unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:a AS timestamptz[])) AS k(t, n, a)
                WHERE (c.tenant_id, c.nas_id, c.at) = (k.t, k.n, k.a) AND c.change = 0
                """
            ),
            {"t": [g[0] for g in gone], "n": [g[1] for g in gone], "a": [g[2] for g in gone]},
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
    emptied = await session.execute(
        text(
            f"""
            WITH up AS (
                INSERT INTO "{schema}".concurrency_buckets AS b (tenant_id, grain, nas_id, bucket_start, net)
                SELECT * FROM unnest(CAST(:t AS text[]), CAST(:g AS text[]), CAST(:n AS text[]),
                                     CAST(:b AS timestamptz[]), CAST(:d AS int[]))
                ON CONFLICT (tenant_id, grain, nas_id, bucket_start) DO UPDATE SET net = b.net + EXCLUDED.net
                RETURNING tenant_id, grain, nas_id, bucket_start, net)
            SELECT tenant_id, grain, nas_id, bucket_start FROM up WHERE net = 0
            """
        ),
        keys | {"d": [net for _, net in moved]},
    )
    gone = emptied.all()
    if gone:
        await session.execute(
            text(
                f"""
                DELETE FROM "{schema}".concurrency_buckets b
                USING unnest(CAST(:t AS text[]), CAST(:g AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[]))
                    AS k(t, g, n, b)
                WHERE (b.tenant_id, b.grain, b.nas_id, b.bucket_start) = (k.t, k.g, k.n, k.b) AND b.net = 0
                """
            ),
            {
                "t": [g[0] for g in gone],
                "g": [g[1] for g in gone],
                "n": [g[2] for g in gone],
                "b": [g[3] for g in gone],
            },
        )


# Each touched hour's net and peak above the level it began with, from its changes, in the database: the level
# after each instant of the hour, and the level it began with (0) unless a change falls on the hour's start; the
# highest, first reached (domain/concurrency.summarize_hour; the migration 0005 fills the same way).
_SUMMARIZE_HOURS = """
WITH h AS (
    SELECT * FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[])) AS h(t, n, b)
), c AS (
    SELECT h.t, h.n, h.b, c.at, c.change, sum(c.change) OVER (PARTITION BY h.t, h.n, h.b ORDER BY c.at) AS lvl
    FROM h CROSS JOIN LATERAL (  -- one index range per hour (OFFSET 0: not flattened into a join of the table)
        SELECT at, change FROM "{schema}".concurrency_changes
        WHERE tenant_id = h.t AND nas_id = h.n AND at >= h.b AND at < h.b + interval '1 hour' OFFSET 0) AS c
), nets AS (
    SELECT t, n, b, sum(change)::int AS net, min(at) AS first_at FROM c GROUP BY t, n, b
), candidates AS (
    SELECT t, n, b, at, lvl FROM c
    UNION ALL
    SELECT t, n, b, b, 0 FROM nets WHERE first_at > b
)
INSERT INTO "{schema}".concurrency_buckets AS x (tenant_id, grain, nas_id, bucket_start, net, peak, peak_at)
SELECT DISTINCT ON (k.t, k.n, k.b) k.t, 'hour', k.n, k.b, s.net, k.lvl::int, k.at
FROM candidates k JOIN nets s ON (s.t, s.n, s.b) = (k.t, k.n, k.b)
ORDER BY k.t, k.n, k.b, k.lvl DESC, k.at
ON CONFLICT (tenant_id, grain, nas_id, bucket_start)
DO UPDATE SET net = EXCLUDED.net, peak = EXCLUDED.peak, peak_at = EXCLUDED.peak_at
RETURNING tenant_id, nas_id, bucket_start
"""


# An hour's summary is computed from every change of the hour, not added to: two transactions writing changes in
# the same hour (two replicas, or two partition groups of one poll) would each summarize without the other's
# uncommitted changes, and the later upsert would win with a summary missing the earlier's. So each takes a
# transaction lock per (tenant, NAS, hour) first, in one order, and summarizes in a statement that starts once it
# holds them: it sees the changes of every transaction that summarized the same hour before it.
_LOCK_HOURS = """
SELECT count(pg_advisory_xact_lock(:space, k)) FROM (
    SELECT DISTINCT hashtext(h.t || '/' || h.n || '/' || extract(epoch FROM h.b)::bigint) AS k
    FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:b AS timestamptz[])) AS h(t, n, b)
    ORDER BY k OFFSET 0
) AS ordered
"""
_HOUR_LOCK_SPACE = 0x636F6E63  # "conc": the first key of these advisory locks, apart from the service's others


async def _summarize_hours(session: AsyncSession, schema: str, hours: list[tuple[str, str, datetime]]) -> None:
    """Summarize the touched hours again from their changes (one statement, in the database: the changes of an
    hour are never shipped to the consumer), holding their locks; the hours left with no change go."""
    columns = {"t": [h[0] for h in hours], "n": [h[1] for h in hours], "b": [h[2] for h in hours]}
    await session.execute(text(_LOCK_HOURS), {**columns, "space": _HOUR_LOCK_SPACE})
    kept = await session.execute(text(_SUMMARIZE_HOURS.format(schema=schema)), columns)
    emptied = sorted(set(hours) - {(t, n, b) for t, n, b in kept.all()})  # every change of the hour cancelled out
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
