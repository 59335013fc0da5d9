"""Online now, kept as a counter row per tenant and NAS (`online_levels`) instead of a count over sessions.

A session is online from its start until its stop, or its last record plus the stale timeout (the rules of
domain/concurrency.py), so "online now" moves with the clock even when no event arrives: it is the concurrency
level at now, the sum of every level change at or before now. Each row keeps that sum up to its `as_of`:

- the session apply (`add_changes`, called by `apply_moves` in the same transaction as the changes) locks the
  rows of every (tenant, NAS) whose changes it writes, and adds those at or before the row's `as_of`;
- `move_on` (a worker, every few seconds) locks the rows and adds the changes in (`as_of`, now], then sets
  `as_of` to now.

Both lock the rows before they read `as_of`, in one order, so whichever commits first, every change is counted
once: a change committed before `move_on` takes the lock is in the range it sums; one written by a transaction
still open then is added by that transaction, which reads the new `as_of` once it gets the lock.
The read side (`adapters/concurrency.online_levels`) adds the few changes between `as_of` and now to the row:
one index range per NAS, however many sessions are open.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema name; values are bound parameters

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reporting.analytics.domain.concurrency import ChangeKey

LevelKey = tuple[str, str]  # tenant, nas_id (ALL_NAS: the tenant)


async def _lock(session: AsyncSession, schema: str, keys: Sequence[LevelKey]) -> dict[LevelKey, datetime]:
    found = await session.execute(
        text(
            f"""
            SELECT l.tenant_id, l.nas_id, l.as_of FROM "{schema}".online_levels l
            JOIN unnest(CAST(:t AS text[]), CAST(:n AS text[])) AS k(t, n) ON l.tenant_id = k.t AND l.nas_id = k.n
            ORDER BY l.tenant_id, l.nas_id
            FOR UPDATE OF l
            """
        ),
        {"t": [k[0] for k in keys], "n": [k[1] for k in keys]},
    )
    return {(t, n): as_of for t, n, as_of in found.all()}


async def add_changes(session: AsyncSession, schema: str, changes: Mapping[ChangeKey, int], now: datetime) -> None:
    """Count the level changes just written (net, per tenant, NAS and instant) in the counter rows: those at or
    before each row's `as_of`; a (tenant, NAS) seen for the first time gets a row at level 0 as of `now`."""
    by_key: dict[LevelKey, list[tuple[datetime, int]]] = defaultdict(list)
    for (tenant, nas, at), change in changes.items():
        by_key[(tenant, nas)].append((at, change))
    keys = sorted(by_key)
    as_of = await _lock(session, schema, keys)
    missing = [k for k in keys if k not in as_of]
    if missing:
        await session.execute(
            text(
                f"""
                INSERT INTO "{schema}".online_levels (tenant_id, nas_id, level, as_of)
                SELECT t, n, 0, :now FROM unnest(CAST(:t AS text[]), CAST(:n AS text[])) AS k(t, n)
                ON CONFLICT DO NOTHING
                """
            ),
            {"t": [k[0] for k in missing], "n": [k[1] for k in missing], "now": now},
        )
        as_of |= await _lock(session, schema, missing)
    moved = [(k, sum(c for at, c in by_key[k] if at <= as_of[k])) for k in keys]
    moved = [(k, d) for k, d in moved if d]
    if not moved:
        return
    await session.execute(
        text(
            f"""
            UPDATE "{schema}".online_levels l SET level = l.level + k.d
            FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:d AS bigint[])) AS k(t, n, d)
            WHERE l.tenant_id = k.t AND l.nas_id = k.n
            """
        ),
        {"t": [k[0] for k, _ in moved], "n": [k[1] for k, _ in moved], "d": [d for _, d in moved]},
    )


async def move_on(session: AsyncSession, schema: str, now: datetime) -> int:
    """Move every counter row's `as_of` on to `now` (never back), adding the changes in between; returns the
    number of rows moved."""
    locked = await session.execute(
        text(
            f"""
            SELECT tenant_id, nas_id FROM "{schema}".online_levels WHERE as_of < :now
            ORDER BY tenant_id, nas_id FOR UPDATE
            """
        ),
        {"now": now},
    )
    keys = locked.all()
    if not keys:
        return 0
    await session.execute(  # a new statement: it sees every change committed before the locks were held
        text(
            f"""
            UPDATE "{schema}".online_levels l
            SET level = l.level + coalesce((
                    SELECT sum(c.change) FROM "{schema}".concurrency_changes c
                    WHERE c.tenant_id = l.tenant_id AND c.nas_id = l.nas_id AND c.at > l.as_of AND c.at <= :now
                ), 0),
                as_of = :now
            FROM unnest(CAST(:t AS text[]), CAST(:n AS text[])) AS k(t, n)
            WHERE l.tenant_id = k.t AND l.nas_id = k.n
            """
        ),
        {"now": now, "t": [k[0] for k in keys], "n": [k[1] for k in keys]},
    )
    return len(keys)
