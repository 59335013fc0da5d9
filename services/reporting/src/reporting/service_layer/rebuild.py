"""Rebuild every read model from the topics: replay into a twin schema, then swap it in.

1. A fresh schema `readmodel_rebuild` gets the same tables (from the same table definitions).
2. Every source topic is read from its first offset up to its end, and applied by the same handlers and the
   same apply step as the live consumer (`EventRoutes`: a batch per transaction, session events set-based),
   recording every event in the twin's processed-events table.
3. The live tables are locked (the processed-events table first: every live consumer transaction starts by
   writing to it, so once we hold it no live transaction is in flight and none can start). The events that
   arrived meanwhile are applied, and the schemas are renamed in the same transaction: the twin becomes
   `readmodel`, the old one is dropped. The live consumer's next transaction finds the new tables, and in
   their processed-events table every event the rebuild applied, so nothing is applied twice.

With `swap=False` the twin is compared with the live tables under the same lock instead (`--verify`).
"""

# ruff: noqa: S608 - SQL is composed only with our own schema and table names; values are bound parameters

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bss_contracts import Envelope
from bss_runtime.consumer import EventRoutes, NotForThisService
from bss_runtime.db import Database
from bss_runtime.kafka import full_name
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import LIVE_SCHEMA, ReadModel, build_tables
from reporting.config import Settings
from reporting.entrypoints import handlers

log = logging.getLogger(__name__)

TWIN_SCHEMA = f"{LIVE_SCHEMA}_rebuild"
RETIRED_SCHEMA = f"{LIVE_SCHEMA}_retired"
LOCK_TIMEOUT = "2s"
REPLAY_BATCH = 5000  # records per transaction


@dataclass
class RebuildReport:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    swapped: bool = False
    differences: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (only live, only rebuilt)


class Rebuild:
    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.database = Database(settings.database_url, pool_size=2)
        self.live = build_tables(LIVE_SCHEMA)
        self.twin = build_tables(TWIN_SCHEMA)
        self.partitions = SessionPartitions(
            TWIN_SCHEMA,
            retention_months=settings.session_retention_months,
            ahead_months=settings.session_partitions_ahead,
        )
        self.routes = EventRoutes(self.twin.runtime.processed_events, consumer=settings.service_name)
        handlers.register(self.routes, self.twin, self.partitions, self.clock)
        self.report = RebuildReport()

    async def run(self, *, swap: bool = True) -> RebuildReport:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.settings.service_name}-rebuild",
        )
        await consumer.start()
        started = time.monotonic()

        def step(message: str) -> None:
            log.info(message, extra={"seconds": round(time.monotonic() - started, 3), "applied": self.report.applied})

        try:
            await self._create_twin()
            step("twin schema created")
            partitions = await self._assign(consumer)
            await self._replay(consumer, await consumer.end_offsets(partitions))
            step("topics replayed to their ends")
            async with self.database.engine.connect() as lock_conn:
                await self._lock_live(lock_conn)
                step("live tables locked")
                await self._replay(consumer, await consumer.end_offsets(partitions))
                step("caught up under the lock")
                if swap:
                    await self._swap(lock_conn)
                else:
                    self.report.differences = await compare(lock_conn, self.live, self.twin)
                    await lock_conn.rollback()
                    await self._drop_twin()
        finally:
            await consumer.stop()
            await self.database.close()
        log.info("rebuild finished", extra={"report": str(self.report)})
        return self.report

    async def _create_twin(self) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{TWIN_SCHEMA}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{TWIN_SCHEMA}"'))
            await conn.run_sync(self.twin.metadata.create_all)
            await self.partitions.maintain(conn, self.clock())

    async def _drop_twin(self) -> None:
        async with self.database.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{TWIN_SCHEMA}" CASCADE'))

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        prefix = self.settings.kafka_topic_prefix
        assigned = []
        for topic in self.routes.topics:
            name = full_name(topic.name, prefix)
            numbers = consumer.partitions_for_topic(name)
            if numbers is None:
                await consumer._client.force_metadata_update()
                numbers = consumer.partitions_for_topic(name) or set()
            assigned += [TopicPartition(name, n) for n in sorted(numbers)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        return assigned

    async def _replay(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Apply every record before `ends`, in partition order, a batch per transaction."""
        while await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=500, max_records=REPLAY_BATCH)
            records = [r for tp, rs in batches.items() for r in rs if r.offset < ends.get(tp, 0)]
            for tp, rs in batches.items():  # don't read past the end of this pass
                if rs and rs[-1].offset >= ends.get(tp, 0):
                    consumer.seek(tp, ends.get(tp, 0))
            if records:
                await self._apply(records)

    async def _apply(self, records: list[Any]) -> None:
        """One transaction per batch, through the live consumer's apply step; a batch that fails is applied
        again one event at a time (savepoints), so that one bad event is left out as the live consumer would
        dead-letter it."""
        batch: list[Envelope[Any]] = []
        for record in records:
            try:
                batch.append(self.routes.decode(record.value, record.headers))
            except NotForThisService:
                self.report.skipped += 1
            except (ValidationError, ValueError):
                self.report.failed += 1  # the live consumer dead-letters these
        if not batch:
            return
        try:
            async with self.database.transaction() as session:
                outcomes = await self.routes.apply(session, batch)
        except Exception:
            self.partitions.forget()
            outcomes = []
            async with self.database.transaction() as session:
                for envelope in batch:
                    outcomes.append(await self._apply_one(session, envelope))
        self.report.applied += outcomes.count("processed")
        self.report.duplicates += outcomes.count("duplicate")
        self.report.failed += outcomes.count("failed")

    async def _apply_one(self, session: AsyncSession, envelope: Envelope[Any]) -> str:
        for attempt in range(1, self.settings.consumer_max_attempts + 1):
            try:
                async with session.begin_nested():
                    (outcome,) = await self.routes.apply(session, [envelope])
                return outcome
            except Exception:  # as the live consumer: retried, then left out (it would be dead-lettered)
                self.partitions.forget()
                if attempt == self.settings.consumer_max_attempts:
                    log.exception("event failed in rebuild", extra={"event_id": str(envelope.id)})
        return "failed"

    async def _lock_live(self, conn: AsyncConnection) -> None:
        tables = [
            row.relname
            for row in await conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :s AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"
                ),
                {"s": LIVE_SCHEMA},
            )
        ]
        await conn.commit()
        # processed_events first: see the module docstring.
        ordered = ["processed_events"] + [t for t in tables if t != "processed_events"]
        while True:
            try:
                await conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                for name in ordered:
                    await conn.execute(text(f'LOCK TABLE "{LIVE_SCHEMA}"."{name}" IN ACCESS EXCLUSIVE MODE'))
                return
            except DBAPIError as exc:
                if "lock timeout" not in str(exc).lower():
                    raise
                log.info("live tables busy; trying the lock again")
                await conn.rollback()
                await asyncio.sleep(0.2)

    async def _swap(self, conn: AsyncConnection) -> None:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{RETIRED_SCHEMA}" CASCADE'))
        await conn.execute(text(f'ALTER SCHEMA "{LIVE_SCHEMA}" RENAME TO "{RETIRED_SCHEMA}"'))
        await conn.execute(text(f'ALTER SCHEMA "{TWIN_SCHEMA}" RENAME TO "{LIVE_SCHEMA}"'))
        await conn.execute(text(f'DROP SCHEMA "{RETIRED_SCHEMA}" CASCADE'))
        await conn.commit()
        self.report.swapped = True


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def compare(conn: AsyncConnection, a: ReadModel, b: ReadModel) -> dict[str, tuple[int, int]]:
    """Rows of each read-model table found in only one of the two schemas (empty: identical)."""
    out = {}
    for table in a.model_tables:
        name = table.name
        only = []
        for x, y in ((a.schema, b.schema), (b.schema, a.schema)):
            only.append(
                int(
                    await conn.scalar(
                        text(
                            f'SELECT count(*) FROM (SELECT * FROM "{x}"."{name}" EXCEPT ALL '
                            f'SELECT * FROM "{y}"."{name}") d'
                        )
                    )
                    or 0
                )
            )
        if any(only):
            out[name] = (only[0], only[1])
    return out
