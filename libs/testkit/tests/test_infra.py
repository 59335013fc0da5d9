"""The infrastructure the testkit hands out really works: a Kafka round trip and a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bss_testkit.plugin import FreshDatabase, _delete_topics, database_url, plain_postgres_url


async def test_kafka_round_trip_with_acks_all(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}infra.smoke"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        for _ in range(50):  # the new topic's metadata reaches the broker's cache shortly after creation
            if topic in await admin.list_topics():
                break
            await asyncio.sleep(0.1)
        assert topic in await admin.list_topics()

        payload = uuid.uuid4().bytes
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, payload, key=b"customer-42")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"{topic_prefix}infra",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"customer-42", payload)
        assert (record.partition, record.offset) == (sent.partition, sent.offset)
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def test_session_cleanup_deletes_only_topics_with_the_prefix(kafka_bootstrap: str, topic_prefix: str) -> None:
    doomed, kept = f"{topic_prefix}cleanup.", f"{topic_prefix}kept"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        created = {f"{doomed}a", f"{doomed}b", kept}
        await admin.create_topics([NewTopic(n, 1, 1) for n in created])
        # Metadata of new topics reaches the broker's cache a little later; deletion lists topics first.
        await _until(lambda topics: created <= topics, admin)
        await _delete_topics(kafka_bootstrap, doomed)
        # Other tests of this session have topics under the same prefix: look only at ours.
        remaining = await _until(lambda topics: not any(t.startswith(doomed) for t in topics), admin)
        remaining = {t for t in remaining if t.startswith(doomed) or t == kept}
        assert remaining == {kept}
    finally:
        await admin.close()


async def test_fresh_database_is_new_empty_and_utc(fresh_database: FreshDatabase) -> None:
    first = await fresh_database("infra")
    second = await fresh_database("infra")
    assert first != second
    assert first.startswith("postgresql+asyncpg://")

    conn = await asyncpg.connect(plain_postgres_url(first))
    try:
        assert await conn.fetchval("select 1") == 1
        assert (await conn.fetchval("select current_database()")).startswith("infra_")
        assert await conn.fetchval("show timezone") in {"UTC", "Etc/UTC"}
        assert await conn.fetchval("select count(*) from pg_tables where schemaname = 'public'") == 0
        await conn.execute("create table probe (id int primary key)")
    finally:
        await conn.close()


def test_database_url_keeps_credentials_host_and_query() -> None:
    server = "postgresql://postgres:s3cret@db.example:6543/postgres?sslmode=disable"
    assert database_url(server, "billing_ab12") == (
        "postgresql+asyncpg://postgres:s3cret@db.example:6543/billing_ab12?sslmode=disable"
    )
    assert plain_postgres_url("postgresql+asyncpg://u:p@h:1/d") == "postgresql://u:p@h:1/d"


async def _until(ready, admin: AIOKafkaAdminClient, seconds: float = 30.0) -> set[str]:
    """The broker's topic list once `ready(topics)` holds (or the last one seen, after `seconds`)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        topics = set(await admin.list_topics())
        if ready(topics) or asyncio.get_running_loop().time() > deadline:
            return topics
        await asyncio.sleep(0.1)
