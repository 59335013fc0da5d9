"""An unavailable database is never a reason to dead-letter: the batch is redelivered until it is back.

PostgreSQL restarting answers "the database system is starting up" (SQLSTATE 57P03) for a while; a consumer
that took that for a bad message dead-lettered valid events (seen when PostgreSQL was SIGKILLed under load).
"""

from __future__ import annotations

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_contracts import Envelope
from bss_runtime.consumer import EventConsumer, is_infrastructure
from bss_runtime.kafka import ensure_topics
from bss_testkit.events import EventProbe, eventually, publish_events

from .support import apply_to_ledger, ledger, notification, tables

pytestmark = pytest.mark.timeout(120)


def test_unavailable_database_conditions_are_infrastructure() -> None:
    for exc in (
        asyncpg.CannotConnectNowError("the database system is starting up"),  # 57P03
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),  # 57P01
        asyncpg.CrashShutdownError("terminating connection because of crash of another server process"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),  # 53300
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ):
        wrapped = DBAPIError("INSERT ...", {}, exc)  # as SQLAlchemy raises it
        assert is_infrastructure(exc) and is_infrastructure(wrapped), exc
    for exc in (
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.StringDataRightTruncationError("value too long"),
        ValueError("bad"),
    ):
        assert not is_infrastructure(exc) and not is_infrastructure(DBAPIError("x", {}, exc)), exc


async def test_database_starting_up_redelivers_and_dead_letters_nothing(db, kafka_bootstrap, topic_prefix) -> None:
    prefix = f"{topic_prefix}outage."
    topic = type(notification("x", 0)).topic
    await ensure_topics(kafka_bootstrap, prefix, [topic])
    failures = {"left": 4}

    async def starting_up_then_fine(event: Envelope, session: AsyncSession) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise DBAPIError("INSERT ...", {}, asyncpg.CannotConnectNowError("the database system is starting up"))
        await apply_to_ledger(event, session)

    broker = KafkaBroker(kafka_bootstrap)
    consumer = EventConsumer(db, tables, group="outage", topic_prefix=prefix, max_attempts=1)
    consumer.on(type(notification("x", 0)))(starting_up_then_fine)
    consumer.attach(broker)
    await broker.start()
    try:
        await publish_events(kafka_bootstrap, prefix, *[(notification("c1", i), "t1") for i in range(3)])

        async def applied() -> bool:
            async with db.transaction() as s:
                return (await s.scalar(select(func.count()).select_from(ledger))) == 3

        await eventually(applied, timeout=60)
        assert failures["left"] == 0  # it did fail, more times than max_attempts allows
    finally:
        await broker.stop()
    async with EventProbe(kafka_bootstrap, prefix, f"{topic.name}.dlq") as probe:
        assert await probe.settle(1.5) == []  # nothing dead-lettered
