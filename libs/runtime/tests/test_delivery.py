"""Lossless delivery on the real broker and database: outbox -> relay -> Kafka -> idempotent consumer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select

from bss_contracts import Envelope, topics
from bss_runtime.consumer import EventConsumer
from bss_runtime.db import Database
from bss_runtime.kafka import ensure_topics, new_producer
from bss_runtime.outbox import EventWriter
from bss_runtime.relay import OutboxRelay
from bss_testkit.events import EventProbe, eventually

from .support import apply_to_ledger, ledger, notification, tables

pytestmark = pytest.mark.timeout(240)
NOTIFY = topics.NOTIFICATIONS


@pytest.fixture
async def prefix(kafka_bootstrap, topic_prefix, request):
    # Each test gets its own topics: a unique prefix below the session's.
    p = f"{topic_prefix}{request.node.name[:20]}."
    await ensure_topics(kafka_bootstrap, p, [NOTIFY])
    return p


async def stage(db: Database, n: int, customers: int = 7) -> None:
    writer = EventWriter(tables, source="/tests/runtime")
    async with db.transaction() as session:
        for i in range(n):
            await writer.add(session, notification(f"c{i % customers}", i), tenant_id="t1")


async def start_consumer(db: Database, bootstrap: str, prefix: str, group: str = "ledger") -> KafkaBroker:
    broker = KafkaBroker(bootstrap)
    consumer = EventConsumer(db, tables, group=group, topic_prefix=prefix, retry_backoff_seconds=0.01)
    consumer.on(type(notification("x", 0)))(apply_to_ledger)
    consumer.attach(broker)
    await broker.start()
    return broker


async def ledger_count(db: Database) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(ledger)) or 0)


async def test_outbox_to_kafka_to_idempotent_consumer_round_trip(db, kafka_bootstrap, prefix):
    await stage(db, 50)
    producer = new_producer(kafka_bootstrap, client_id="t")
    await producer.start()
    relay = OutboxRelay(db, tables, producer, service="t", topic_prefix=prefix)
    assert await relay.publish_batch() == 50
    assert await relay.publish_batch() == 0  # marked sent: nothing is published twice by the relay
    broker = await start_consumer(db, kafka_bootstrap, prefix)
    try:
        await eventually(lambda: _equals(ledger_count(db), 50))
        # Redeliver every record once more, as an at-least-once producer might: no second effect.
        async with EventProbe(kafka_bootstrap, prefix, NOTIFY) as probe:
            await probe.wait_for(lambda e: True, count=50)
            for record in probe.records:
                await producer.send_and_wait(record.topic, record.value, key=record.key)
        await asyncio.sleep(1.5)
        assert await ledger_count(db) == 50
        async with db.transaction() as s:
            processed = await s.scalar(select(func.count()).select_from(tables.processed_events))
        assert processed == 50
    finally:
        await broker.stop()
        await producer.stop()


async def _equals(value, expected) -> bool:
    return (await value) == expected


async def test_relay_killed_mid_stream_loses_nothing_and_applies_nothing_twice(db, kafka_bootstrap, prefix):
    total = 6000
    await stage(db, total)
    env = os.environ | {
        "DATABASE_URL": db.url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "BATCH": "100",
    }
    script = str(Path(__file__).with_name("relay_process.py"))

    async def published() -> int:
        async with db.transaction() as s:
            q = select(func.count()).where(tables.outbox.c.published_at.is_not(None))
            return int(await s.scalar(q) or 0)

    first = subprocess.Popen([sys.executable, script], env=env)
    try:
        await eventually(lambda: _at_least(published(), 500), timeout=60, interval=0.02)
        first.send_signal(signal.SIGKILL)  # mid-stream: some batches sent but not yet marked
        first.wait()
        at_kill = await published()
        assert at_kill < total, "the relay finished before it could be killed; raise `total`"
        second = subprocess.Popen([sys.executable, script], env=env)
        try:
            await eventually(lambda: _equals(published(), total), timeout=120)
        finally:
            second.terminate()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()

    broker = await start_consumer(db, kafka_bootstrap, prefix)
    try:
        await eventually(lambda: _equals(ledger_count(db), total), timeout=120)
    finally:
        await broker.stop()
    async with EventProbe(kafka_bootstrap, prefix, NOTIFY) as probe:
        await probe.wait_for(lambda e: True, count=total)
        await probe.settle(1.0)
    ids = [e.id for e in probe.seen]
    assert len(set(ids)) == total  # every event arrived (some possibly twice: at-least-once)
    # Per key, events first arrive in the order they were written.
    firsts: dict[str, list[int]] = defaultdict(list)
    seen_ids = set()
    for e in probe.seen:
        if e.id not in seen_ids:
            seen_ids.add(e.id)
            firsts[e.subject].append(int(e.data["template"].removeprefix("seq-")))
    for key, seqs in firsts.items():
        assert seqs == sorted(seqs), f"key {key} out of order"
    assert await ledger_count(db) == total  # applied exactly once each


async def _at_least(value, n) -> bool:
    return (await value) >= n


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_next_message_is_processed(
    db, kafka_bootstrap, prefix
):
    topic = f"{prefix}{NOTIFY.name}"
    good = Envelope.wrap(notification("c1", 1), source="/tests", tenant_id="t1")
    failing = Envelope.wrap(notification("c1", 2, body="explode"), source="/tests", tenant_id="t1")
    wrong_payload = good.model_dump(mode="json") | {"id": "6f1c2b9e-0d3a-4a57-9a51-3d3c7e1f0a11"}
    wrong_payload["data"] = {"customer_id": "c1"}  # required fields missing
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    import json

    for value in (
        b"{not json",
        json.dumps(wrong_payload).encode(),
        failing.model_dump_json().encode(),
        good.model_dump_json().encode(),
    ):
        await producer.send_and_wait(topic, value, key=b"c1")
    await producer.stop()

    broker = await start_consumer(db, kafka_bootstrap, prefix)
    try:
        await eventually(lambda: _equals(ledger_count(db), 1))
    finally:
        await broker.stop()
    async with EventProbe(kafka_bootstrap, prefix, NOTIFY.dead_letter) as dlq:
        await eventually(lambda: _polled(dlq, 3), timeout=30)
    reasons = [dict((k, v.decode()) for k, v in r.headers)["dlq.reason"] for r in dlq.records]
    assert reasons == ["invalid-envelope", "invalid-payload", "handler-failed"]
    first = dict((k, v.decode()) for k, v in dlq.records[0].headers)
    assert first["dlq.original.topic"] == topic and first["dlq.original.offset"] == "0"
    assert dlq.records[0].value == b"{not json"
    assert "explode" in dict((k, v.decode()) for k, v in dlq.records[2].headers)["dlq.error"]


async def _polled(probe: EventProbe, n: int) -> bool:
    await probe.settle(0.3)
    return len(probe.records) >= n
