"""The reporting process SIGKILLed while it applies batches of session events, twice, then restarted: its read
model equals the one built by applying the same events one per transaction. Each batch is one transaction
with its processed-event records, and offsets are committed after it: a batch cut short leaves nothing, and
is redelivered whole."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_contracts import topics as registry
from bss_runtime.db import Database
from bss_runtime.kafka import ensure_topics
from bss_testkit.events import eventually
from reporting.adapters.tables import live
from reporting.service_layer.rebuild import compare

from .reporting_support import empty_read_model, nas_reset, session_event

pytestmark = pytest.mark.timeout(360)
TENANT = "isp-crash"
SESSIONS = 800  # 2,200 events: the one-per-transaction reference takes ~25 s on a quiet machine


def stream() -> list[DomainEvent]:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    out: list[tuple[datetime, DomainEvent]] = []
    for k in range(SESSIONS):
        begin = start + timedelta(seconds=k % 3600)
        nas = f"nas-{k % 5}"
        for i, kind in enumerate(["start", "update", "stop"] if k % 4 else ["start", "update"]):
            when = begin + timedelta(minutes=5 * i)
            event = session_event(
                kind, f"C{k}", f"user{k % 500}", start=begin, when=when, seconds=300 * i, octets_in=k * 10 + i,
                octets_out=k * 30 + i, nas_id=nas, cause="User-Request" if kind == "stop" else None,
            )  # fmt: skip
            out.append((when, event))
    out.append((start + timedelta(minutes=30), nas_reset("nas-1", start + timedelta(minutes=30))))
    out.sort(key=lambda pair: pair[0])
    return [e for _, e in out]


async def publish(bootstrap: str, prefix: str, envelopes: list[Envelope[Any]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(
                f"{prefix}{e.data.topic.name}",
                e.model_dump_json().encode(),
                key=e.subject.encode(),
                headers=[(k, v.encode()) for k, v in e.headers().items()],
            )
            for e in envelopes
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigkilled_mid_batch_twice_then_restarted_equals_one_event_at_a_time(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str
) -> None:
    prefix = f"{topic_prefix}crash."
    await ensure_topics(kafka_bootstrap, prefix, [registry.SESSIONS, registry.NAS])
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in stream()]
    await publish(kafka_bootstrap, prefix, envelopes)

    url = await fresh_database("reporting_crash")
    db = Database(url, pool_size=2)
    env = os.environ | {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "HTTP_PORT": str(free_port()),
        "BI_WORKER_ENABLED": "false",
        "CONSUMER_BATCH_SIZE": "500",  # many batches: the kills land inside one
    }

    async def applied() -> int:
        try:
            async with db.engine.connect() as conn:
                return int(await conn.scalar(text("SELECT count(*) FROM readmodel.processed_events")) or 0)
        except Exception:
            return 0  # not migrated yet

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "reporting"], env=env, stderr=subprocess.DEVNULL)

    kills = []
    try:
        for _ in range(2):
            before = await applied()
            process = start()
            try:
                await eventually(lambda b=before: _more_than(applied(), b + 300), timeout=90, interval=0.02)
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait()
            kills.append(await applied())
        assert kills[-1] < len(envelopes), "the kills came too late to cut a batch short"
        process = start()
        try:
            await eventually(lambda: _equals(applied(), len(envelopes)), timeout=120, interval=0.2)
        finally:
            process.terminate()
            process.wait(timeout=30)

        reference, routes = await empty_read_model(db, "one_by_one")
        for envelope in envelopes:
            async with db.transaction() as session:
                await routes.apply(session, [envelope])

        async with db.engine.connect() as conn:
            assert await compare(conn, live, reference) == {}
            sessions = await conn.scalar(text("SELECT count(*) FROM readmodel.sessions"))
            counted = await conn.scalar(text("SELECT sum(sessions) FROM readmodel.session_hours"))
        assert sessions == SESSIONS and counted == SESSIONS
    finally:
        await db.close()


async def _more_than(value: Any, floor: int) -> bool:
    return bool((await value) > floor)


async def _equals(value: Any, expected: int) -> bool:
    return bool((await value) == expected)
