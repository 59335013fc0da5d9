"""Kafka plumbing: topic names with the deployment's prefix, topic creation, the idempotent producer."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bss_contracts.topics import ALL_TOPICS, Replication, Topic, dead_letter_name

log = logging.getLogger(__name__)


def full_name(topic: str, prefix: str) -> str:
    return f"{prefix}{topic}"


def consumer_group(group_prefix: str | None, topic_prefix: str, service: str) -> str:
    """The consumer group of `service`: KAFKA_GROUP_PREFIX + its name, the topic prefix standing in for an unset
    group prefix, so two deployments (or test runs) with topics of their own never share a group either."""
    return f"{topic_prefix if group_prefix is None else group_prefix}{service}"


def new_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a record acknowledged is on every in-sync replica, and retries do not duplicate
    or reorder records of one partition."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15_000,
    )


async def replication(admin: AIOKafkaAdminClient) -> Replication:
    """The registry's replication as far as the cluster allows: its live brokers (3 or more in production: 3
    copies, 2 in sync; 1 in local mode and the tests)."""
    return Replication.for_brokers(len((await admin.describe_cluster())["brokers"]))


async def ensure_topics(bootstrap: str, prefix: str = "", topics: Iterable[Topic] = ALL_TOPICS) -> None:
    """Create the registry's topics and their dead-letter topics if missing (auto-creation is off), replicated
    as the registry says (`replication`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    await admin.start()
    try:
        copies = await replication(admin)
        wanted: list[NewTopic] = []
        for t in topics:
            config = t.config() | copies.config()
            wanted.append(NewTopic(full_name(t.name, prefix), t.partitions, copies.factor, topic_configs=config))
            dlq_config = {"retention.ms": "-1"} | copies.config()
            wanted.append(
                NewTopic(full_name(dead_letter_name(t.name), prefix), 1, copies.factor, topic_configs=dlq_config)
            )
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent starter was first
                await admin.create_topics(missing)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()
