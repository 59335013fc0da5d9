"""Runs an outbox relay until killed (the crash test SIGKILLs it mid-stream)."""

from __future__ import annotations

import asyncio
import os
import sys

from bss_runtime.db import Database
from bss_runtime.kafka import new_producer
from bss_runtime.relay import OutboxRelay

sys.path.insert(0, os.path.dirname(__file__))
from support import tables


async def main() -> None:
    db = Database(os.environ["DATABASE_URL"])
    producer = new_producer(os.environ["KAFKA_BOOTSTRAP_SERVERS"], client_id="relay-test")
    await producer.start()
    relay = OutboxRelay(
        db,
        tables,
        producer,
        service="relay-test",
        topic_prefix=os.environ["KAFKA_TOPIC_PREFIX"],
        batch_size=int(os.environ.get("BATCH", "200")),
    )
    await relay.run(asyncio.Event())


asyncio.run(main())
