"""The outbox relay: publishes committed outbox rows to Kafka in order, then marks them sent.

- One active relay per service database (a PostgreSQL advisory lock), so rows of one key are published by
  one producer in id order; other replicas wait as hot standbys.
- Each batch is sent with every send in flight at once (idempotent producer, acks=all) and marked sent only
  after Kafka acknowledged all of it. A crash in between re-sends the batch: delivery is at-least-once and
  consumers deduplicate on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bss_runtime.db import Database
from bss_runtime.kafka import full_name
from bss_runtime.tables import RuntimeTables
from bss_runtime.telemetry import EVENTS_PUBLISHED, OUTBOX_PENDING

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        tables: RuntimeTables,
        producer: AIOKafkaProducer,
        *,
        service: str,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_seconds: float = 0.05,
        keep_published: timedelta = timedelta(days=7),
    ) -> None:
        self._db = database
        self._outbox = tables.outbox
        self._producer = producer
        self._service = service
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll = poll_seconds
        self._keep = keep_published
        self._lock_key = f"outbox-relay:{service}"

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, holding the relay lock while active."""
        while not stop.is_set():
            try:
                async with self._db.engine.connect() as lock_conn:
                    if not await self._try_lock(lock_conn):
                        await _wait(stop, 2.0)
                        continue
                    log.info("outbox relay active", extra={"service": self._service})
                    await self._publish_loop(stop)
            except Exception:
                log.exception("outbox relay error; retrying")
                await _wait(stop, 1.0)

    async def _try_lock(self, conn: AsyncConnection) -> bool:
        got = await conn.scalar(text("select pg_try_advisory_lock(hashtext(:k))"), {"k": self._lock_key})
        await conn.commit()
        return bool(got)

    async def _publish_loop(self, stop: asyncio.Event) -> None:
        idle_rounds = 0
        while not stop.is_set():
            sent = await self.publish_batch()
            if sent:
                idle_rounds = 0
                continue
            idle_rounds += 1
            if idle_rounds % 200 == 0:
                await self._housekeeping()
            await _wait(stop, self._poll)

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows; returns how many were published."""
        o = self._outbox
        async with self._db.transaction() as session:
            rows = (
                await session.execute(
                    select(o.c.id, o.c.topic, o.c.key, o.c.payload, o.c.headers)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if not rows:
                return 0
            futures = []
            for row in rows:
                headers = [(k, str(v).encode()) for k, v in row.headers.items()]
                futures.append(
                    await self._producer.send(
                        full_name(row.topic, self._prefix),
                        value=row.payload,
                        key=row.key.encode(),
                        headers=headers,
                    )
                )
            await asyncio.gather(*futures)
            now = datetime.now(UTC)
            await session.execute(update(o).where(o.c.id.in_([r.id for r in rows])).values(published_at=now))
        for row in rows:
            EVENTS_PUBLISHED.labels(service=self._service, topic=row.topic).inc()
        return len(rows)

    async def _housekeeping(self) -> None:
        o = self._outbox
        async with self._db.transaction() as session:
            cutoff = datetime.now(UTC) - self._keep
            await session.execute(delete(o).where(o.c.published_at < cutoff))
            pending = await session.scalar(select(func.count()).where(o.c.published_at.is_(None)))
            OUTBOX_PENDING.labels(service=self._service).set(pending or 0)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
