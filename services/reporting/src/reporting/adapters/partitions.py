"""Monthly partitions of `sessions`: created ahead (and on demand), dropped after the retention period.

A partition holds the sessions that started in its month (UTC). Dropping one also takes its sessions out of
the hourly and daily rollups, in the same transaction, so that they stay the exact sum of the sessions kept.
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

log = logging.getLogger(__name__)


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def partition_name(month: date) -> str:
    return f"sessions_y{month.year:04d}m{month.month:02d}"


def _month_of_name(name: str) -> date | None:
    if len(name) == 17 and name.startswith("sessions_y") and name[14] == "m":
        return date(int(name[10:14]), int(name[15:17]), 1)
    return None


class SessionPartitions:
    """Partition upkeep for the `sessions` table of one schema."""

    def __init__(self, schema: str, *, retention_months: int, ahead_months: int) -> None:
        self.schema = schema
        self.retention_months = retention_months
        self.ahead_months = ahead_months
        self._known: set[date] = set()

    def cutoff(self, now: datetime) -> datetime:
        """Sessions that started before this are past retention: dropped, and ignored when they arrive."""
        return month_start(add_months(month_of(now), -self.retention_months))

    def forget(self) -> None:
        """Drop the cache of partitions known to exist (after an insert found one missing)."""
        self._known.clear()

    async def ensure(self, session: AsyncSession | AsyncConnection, month: date) -> None:
        if month in self._known:
            return
        await self._lock(session)
        lower, upper = month_start(month).isoformat(), month_start(add_months(month, 1)).isoformat()
        await session.execute(
            text(
                f'CREATE TABLE IF NOT EXISTS "{self.schema}".{partition_name(month)} '
                f"PARTITION OF \"{self.schema}\".sessions FOR VALUES FROM ('{lower}') TO ('{upper}')"
            )
        )
        self._known.add(month)

    async def existing(self, session: AsyncSession | AsyncConnection) -> list[date]:
        rows = await session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
                "WHERE n.nspname = :schema AND p.relname = 'sessions'"
            ),
            {"schema": self.schema},
        )
        months = [_month_of_name(name) for (name,) in rows]
        return sorted(m for m in months if m is not None)

    async def maintain(self, session: AsyncSession | AsyncConnection, now: datetime) -> list[date]:
        """Create the partitions from the retention cutoff to `ahead_months` ahead; drop older ones.
        Returns the months dropped."""
        current = month_of(now)
        first = add_months(current, -self.retention_months)
        for n in range(self.retention_months + self.ahead_months + 1):
            await self.ensure(session, add_months(first, n))
        dropped = [m for m in await self.existing(session) if m < first]
        for month in dropped:
            await self._drop(session, month)
        return dropped

    async def _drop(self, session: AsyncSession | AsyncConnection, month: date) -> None:
        s, name = self.schema, partition_name(month)
        await self._lock(session)
        await session.execute(text(f'ALTER TABLE "{s}".sessions DETACH PARTITION "{s}".{name}'))
        for rollup, key, bucket in (
            ("session_hours", "hour", "date_trunc('hour', time, 'UTC')"),
            ("session_days", "day", "(time AT TIME ZONE 'UTC')::date"),
        ):
            await session.execute(
                text(
                    f"""
                    WITH gone AS (
                        SELECT tenant_id, {bucket} AS {key}, count(*) AS n, sum(input_octets) AS i,
                               sum(output_octets) AS o, sum(session_time_seconds) AS t
                        FROM "{s}".{name} GROUP BY 1, 2
                    )
                    UPDATE "{s}".{rollup} r
                    SET sessions = r.sessions - g.n, input_octets = r.input_octets - g.i,
                        output_octets = r.output_octets - g.o, session_time_seconds = r.session_time_seconds - g.t
                    FROM gone g WHERE r.tenant_id = g.tenant_id AND r.{key} = g.{key}
                    """
                )
            )
            await session.execute(text(f'DELETE FROM "{s}".{rollup} WHERE sessions = 0'))
        await session.execute(text(f'DROP TABLE "{s}".{name}'))
        self._known.discard(month)
        log.info("dropped session partition past retention", extra={"partition": f"{s}.{name}"})

    async def _lock(self, session: AsyncSession | AsyncConnection) -> None:
        # Serialises partition DDL between the consumer, the maintenance worker and a rebuild.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{self.schema}.sessions.ddl"})
