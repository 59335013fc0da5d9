"""The open-session tracker, in its own low-priority process.

It reads this service's own session topic in large batches and records each session's latest state with one
COPY and one upsert per batch (PostgreSQL parses the envelopes). It runs at a lower CPU priority (`nice`)
than the UDP workers: under load it lags and catches up afterwards instead of slowing the hot path; only
how soon an Accounting-On closes the sessions it has not seen yet depends on it. Upserts keep the newest
state, so a redelivered batch changes nothing: offsets are committed after the transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from datetime import UTC, datetime, timedelta

import asyncpg
import uvloop
from confluent_kafka import Consumer, KafkaError
from sqlalchemy.exc import DataError, DBAPIError

from bss_contracts import topics
from bss_runtime.db import Database
from bss_runtime.kafka import full_name
from bss_runtime.outbox import EventWriter
from bss_runtime.telemetry import configure_logging
from radius_ingest.adapters import repository
from radius_ingest.adapters.tables import runtime_tables
from radius_ingest.config import Settings
from radius_ingest.entrypoints.processes import ProcessGroup, parent_gone, watch_parent
from radius_ingest.service_layer.session_tracker import apply_session_events

log = logging.getLogger(__name__)
FETCH_MIN_BYTES = 256 * 1024
FETCH_WAIT_MAX_MS = 200  # how far behind the topic the tracker may be when traffic is light


class SessionTracker:
    def __init__(self, database: Database, events: EventWriter, settings: Settings, batch_size: int = 5000) -> None:
        self._db = database
        self._events = events
        self._bootstrap = settings.kafka_bootstrap_servers
        self._topic = full_name(topics.SESSIONS.name, settings.kafka_topic_prefix)
        self._group = f"{settings.service_name}-session-tracker"
        self._retention = timedelta(days=settings.closed_session_retention_days)
        self._batch_size = batch_size

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # librdkafka (confluent-kafka) rather than aiokafka: it decodes fetched records in C, which cost a
            # third of the tracker's CPU per event in aiokafka's Python code.
            consumer = Consumer({
                "bootstrap.servers": self._bootstrap,
                "group.id": self._group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # The broker answers a fetch once it has this much, or after fetch.wait.max.ms: under load a
                # few large fetches a second instead of one per producer batch (measured: the tracker's fetches
                # had cost the broker ~40 us of CPU per request with librdkafka's default of 1 byte).
                "fetch.min.bytes": FETCH_MIN_BYTES,
                "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
            })  # fmt: skip
            try:
                consumer.subscribe([self._topic])
                await self._consume(consumer, stop)
            except Exception:
                log.exception("session tracker failed; restarting it")
                await _wait(stop, 2.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(consumer.close)

    async def _consume(self, consumer: Consumer, stop: asyncio.Event) -> None:
        last_housekeeping = datetime.now(UTC)
        while not stop.is_set():
            # Wait (in a thread, so that the stop signal is heard) for the first record only, then take what else
            # is there: the tracker stays as current as the topic (an Accounting-On handled before the tracker
            # read a session's Stop would close that session once more), and batches grow with the load.
            messages = await asyncio.to_thread(consumer.consume, 1, 0.5)
            if messages:
                messages += consumer.consume(self._batch_size - 1, 0)
            envelopes = []
            for message in messages:
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("session topic read error", extra={"error": str(error)})
                    continue
                envelopes.append((message.value() or b"").decode("utf-8", "replace"))
            if envelopes:
                await self._apply(envelopes)
                await asyncio.to_thread(consumer.commit, asynchronous=False)
            if datetime.now(UTC) - last_housekeeping > timedelta(minutes=10):
                last_housekeeping = datetime.now(UTC)
                async with self._db.transaction() as session:
                    await repository.forget_closed_sessions(session, last_housekeeping - self._retention)

    async def _apply(self, envelopes: list[str]) -> None:
        try:
            async with self._db.transaction() as session:
                closed = await apply_session_events(session, self._events, envelopes)
        except (DataError, DBAPIError, asyncpg.DataError) as exc:
            # the COPY into the batch's jsonb column refuses text that is not JSON (asyncpg's own error class)
            if not isinstance(exc, DataError | asyncpg.DataError) and "json" not in str(exc).lower():
                raise
            readable = [e for e in envelopes if _is_json(e)]
            log.error(
                "unreadable records on the session topic skipped", extra={"skipped": len(envelopes) - len(readable)}
            )
            async with self._db.transaction() as session:
                closed = await apply_session_events(session, self._events, readable)
        if closed:
            log.info("closed sessions of NAS reset earlier", extra={"sessions": closed})


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _serve(settings: Settings) -> None:
    stop = asyncio.Event()
    watch_parent(stop)
    database = Database(settings.database_url, pool_size=2)
    tracker = SessionTracker(
        database, EventWriter(runtime_tables, source=f"/services/{settings.service_name}"), settings
    )
    task = asyncio.create_task(tracker.run(stop))
    parent = os.getppid()
    while not stop.is_set():
        await _wait(stop, 1.0)
        if parent_gone(parent):
            stop.set()
    await task
    await database.close()


def tracker_main(settings: Settings) -> None:
    configure_logging(f"{settings.service_name}-tracker", settings.log_level)
    os.nice(settings.tracker_nice)
    uvloop.run(_serve(settings))


def tracker_process(settings: Settings) -> ProcessGroup:
    return ProcessGroup("radius-tracker", 1, tracker_main, lambda _: (settings,))
