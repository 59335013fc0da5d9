"""A poll of session events split by key into two transactions applied at once (`CONSUMER_APPLY_GROUPS`) gives
exactly the read model one transaction per poll gives.

The live consumer's `EventConsumer.process_batch` on records as radius-ingest publishes them (key = username),
over random streams with sessions of many subscribers on three NAS in the same hours (so both groups write the
same concurrency changes, hour summaries, rollups and online counters at once), redelivered polls, and NAS
resets (a poll holding one is applied in one transaction): every read-model table equal row for row.
And polls of whole sessions (each group's day and month nets come to zero, so nothing but the hour's lock orders
the two groups' summaries of the same hour): the hour's peak counts both groups' sessions.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from bss_contracts import Envelope
from bss_runtime.consumer import EventConsumer
from bss_runtime.db import Database
from reporting.adapters.partitions import SessionPartitions
from reporting.adapters.tables import ReadModel, build_tables
from reporting.entrypoints import handlers
from reporting.service_layer.rebuild import compare

from .reporting_support import session_event
from .test_session_batches import T0, random_stream

TENANT = "isp-concurrent"


class CountingConsumer(EventConsumer):
    """The live consumer, counting the polls it applied as concurrent groups."""

    concurrent_polls = 0

    async def _apply_groups_at_once(self, groups: Sequence[Sequence[tuple[Envelope[Any], str]]]) -> bool:
        applied = await super()._apply_groups_at_once(groups)
        self.concurrent_polls += applied
        return applied


@pytest.fixture
async def database(fresh_database: Any) -> AsyncIterator[Database]:
    db = Database(await fresh_database("reporting_concurrent"), pool_size=3)
    yield db
    await db.close()


async def consumer_on(db: Database, schema: str, groups: int) -> tuple[ReadModel, CountingConsumer]:
    rm = build_tables(schema)
    partitions = SessionPartitions(rm.schema, retention_months=13, ahead_months=1)
    consumer = CountingConsumer(db, rm.runtime, group="reporting", apply_groups=groups)
    handlers.register(consumer, rm, partitions)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(rm.metadata.create_all)
    return rm, consumer


def records(envelopes: Sequence[Envelope[Any]]) -> list[ConsumerRecord[bytes, bytes]]:
    out: list[ConsumerRecord[bytes, bytes]] = []
    for offset, env in enumerate(envelopes):
        key, value = env.subject.encode(), env.model_dump_json().encode()
        headers = [(k, v.encode()) for k, v in env.headers().items()]
        out.append(ConsumerRecord("bss.radius.session", 0, offset, 0, 0, key, value, None, 0, 0, headers))
    return out


# Alone, after the parallel part of `make test`: in one clean-clone run (2026-12-03) both seeds had every poll fall
# back to one transaction (0 of 7 and 0 of 9 applied as two groups) on a test process beside the whole-stack
# tests; it passed in every other run, alone and beside 4 busy loops. The consumer now logs why a group failed
# (a WARNING), so the next such run says.
@pytest.mark.serial
@pytest.mark.parametrize("seed", [1, 2])
async def test_polls_in_two_concurrent_groups_give_the_one_transaction_read_model(
    database: Database, seed: int
) -> None:
    rng = random.Random(seed)
    stream = random_stream(rng, sessions=160)
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in stream]
    polls: list[list[ConsumerRecord[bytes, bytes]]] = []
    all_records, i = records(envelopes), 0
    while i < len(all_records):
        size = rng.randrange(20, 120)
        poll = all_records[i : i + size]
        if rng.random() < 0.3:  # redelivered: a poll partly made of records applied already
            poll = all_records[max(0, i - rng.randrange(1, 40)) : i] + poll
        polls.append(poll)
        i += size

    serial, one = await consumer_on(database, f"serial_{seed}", groups=1)
    grouped, two = await consumer_on(database, f"grouped_{seed}", groups=2)
    for poll in polls:
        await one.process_batch(poll)
    for poll in polls:
        await two.process_batch(poll)

    assert one.concurrent_polls == 0
    assert two.concurrent_polls >= len(polls) // 2  # most polls hold no NAS reset: applied as two groups
    async with database.engine.connect() as conn:
        assert await compare(conn, serial, grouped) == {}
        counted = await conn.scalar(text(f"SELECT count(*) FROM {grouped.schema}.sessions"))
        hours = await conn.scalar(
            text(f"SELECT count(*) FROM {grouped.schema}.concurrency_buckets WHERE grain = 'hour'")
        )
        online = await conn.scalar(text(f"SELECT count(*) FROM {grouped.schema}.online_levels"))
        processed = await conn.scalar(text(f"SELECT count(*) FROM {grouped.schema}.processed_events"))
    assert counted == 160 and hours > 0 and online == 4  # 3 NAS + the tenant: the comparison covered them
    assert processed == len(envelopes)  # every event once, redeliveries included


async def test_two_groups_summarizing_the_same_hour_both_count(database: Database) -> None:
    polls = []
    for p in range(4):  # 40 whole sessions of 20 subscribers per poll, an hour each, on one NAS, every instant distinct
        starts, stops = [], []
        for j in range(40):
            start = T0 + timedelta(hours=p, seconds=2 * j)
            stop = start + timedelta(seconds=400 + j)
            user, key = f"u{j % 20}", f"p{p}s{j}"
            starts.append(session_event("start", key, user, start=start, when=start))
            stops.append(session_event("stop", key, user, start=start, when=stop, seconds=400 + j, octets_in=j))
        polls.append(records([Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in starts + stops]))

    serial, one = await consumer_on(database, "serial_hours", groups=1)
    grouped, two = await consumer_on(database, "grouped_hours", groups=2)
    for poll in polls:
        await one.process_batch(poll)
        await two.process_batch(poll)

    assert two.concurrent_polls == len(polls)
    async with database.engine.connect() as conn:
        assert await compare(conn, serial, grouped) == {}
        peaks = await conn.scalars(
            text(f"SELECT peak FROM {grouped.schema}.concurrency_buckets WHERE grain = 'hour' AND nas_id = 'nas-1'")
        )
        assert max(peaks.all()) == 40  # every session of a poll overlaps every other: both groups counted
