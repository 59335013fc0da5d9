"""Online now with two reporting replicas at once (one database, one consumer group, each with its online-counter
worker moving the rows on every 0.2 s): the counters stay exact, never incremented or decremented twice.

- Sessions of 60 subscribers on three NAS (spread over the topic's partitions, so both replicas' consumers apply
  some, in transactions running at the same time): the counter rows and GET /analytics/network/online equal the
  count of the sessions whose span covers the moment (brute force over the sessions read model), per NAS and for
  the tenant.
- Two workers' `move_on` at once, the second started while the first's transaction is open: the drop of
  sessions gone stale is counted once (the row locks order them).
- Sessions going stale a few seconds after they were applied (last record one stale timeout ago, no Stop): both
  workers move the rows on past that instant, and each counts the drop once; then Stops and new Starts applied by
  both consumers while the workers run: still exact.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_contracts.events import radius
from bss_runtime.db import Database
from bss_testkit.events import eventually
from reporting.analytics.domain.concurrency import ALL_NAS, STALE_AFTER
from reporting.analytics.service_layer.online import move_on
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

from .reporting_support import Harness, empty_read_model, new_tenant, session_event

TENANT = new_tenant()
NAS = ("nas-a", "nas-b", "nas-c")


@pytest.fixture(scope="module")
async def replicas(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[list[Harness]]:
    settings = Settings(
        database_url=await fresh_database("reporting_online_replicas"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"{topic_prefix}onr.",
        bi_worker_enabled=False,
        online_move_on_seconds=0.2,
    )
    async with AsyncExitStack() as stack:
        harnesses = []
        for _ in range(2):  # same database, same consumer group, each with its own worker
            app = create_app(settings)
            service: Reporting = app.state.service
            await stack.enter_async_context(service.runtime.running())
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://reporting")
            )
            harnesses.append(Harness(service, client, settings))

        async def both_consume_sessions() -> bool:  # the group settled: each replica holds session partitions
            return all(session_partitions(h) for h in harnesses)

        await eventually(both_consume_sessions, timeout=60)
        yield harnesses


def session_partitions(h: Harness) -> set[int]:
    """The partitions of the session topic this replica's consumer is assigned."""
    topic = f"{h.settings.kafka_topic_prefix}{radius.SessionStarted.topic.name}"
    consumers = [getattr(sub, "consumer", None) for sub in h.service.runtime.broker.subscribers]
    return {tp.partition for c in consumers if c is not None for tp in c.assignment() if tp.topic == topic}


async def brute(h: Harness, moment: datetime) -> dict[str, int]:
    """Sessions whose span covers `moment`, per NAS and for the tenant (ALL_NAS)."""
    rows = await h.rows(
        """
        SELECT nas_id, count(*) FROM readmodel.sessions
        WHERE tenant_id = :t AND start_time <= :m
          AND greatest(start_time, coalesce(stop_time, event_time + :stale)) > :m
        GROUP BY nas_id
        """,
        t=TENANT,
        m=moment,
        stale=STALE_AFTER,
    )
    counts = {nas: int(n) for nas, n in rows}
    return {**counts, ALL_NAS: sum(counts.values())}


async def counter_rows(h: Harness) -> tuple[dict[str, int], datetime]:
    """The counter rows' levels and their earliest `as_of`."""
    rows = await h.rows("SELECT nas_id, level, as_of FROM readmodel.online_levels WHERE tenant_id = :t", t=TENANT)
    return {nas: int(level) for nas, level, _ in rows}, min(as_of for _, _, as_of in rows)


async def online_answer(h: Harness) -> dict[str, int]:
    response = await h.client.get("/analytics/network/online", headers=h.headers(TENANT, "ops"))
    assert response.status_code == 200, response.text
    body = response.json()
    return {ALL_NAS: body["online"], **{n["nas_id"]: n["online"] for n in body["by_nas"]}}


async def assert_exact(replicas: list[Harness], after: datetime) -> None:
    """Once both workers moved the rows past `after`: each row's level is the brute count at the rows' `as_of`
    (all rows move together), and each replica answers the brute count at now."""

    async def moved() -> bool:
        return (await counter_rows(replicas[0]))[1] > after

    await eventually(moved, timeout=30)
    levels, as_of = await counter_rows(replicas[0])
    expected = await brute(replicas[0], as_of)
    assert {k: v for k, v in levels.items() if v} == {k: v for k, v in expected.items() if v}, as_of
    for h in replicas:
        now = datetime.now(UTC)
        answer = await online_answer(h)
        assert {k: v for k, v in answer.items() if v} == {k: v for k, v in (await brute(h, now)).items() if v}


def sessions(now: datetime, first: int, count: int, kind: str) -> list[DomainEvent]:
    events: list[DomainEvent] = []
    for n in range(first, first + count):
        key, user, nas = f"s{n}", f"u{n}", NAS[n % 3]
        if kind == "open":  # recent, online until a Stop
            start = now - timedelta(minutes=10 + n % 7)
            events.append(session_event("start", key, user, start=start, when=start, nas_id=nas))
        elif kind == "stale-soon":  # its last record a stale timeout ago, 3 s from now: online for 3 more seconds
            start = now - STALE_AFTER - timedelta(minutes=20)
            events.append(session_event("start", key, user, start=start, when=start, nas_id=nas))
            seen = now - STALE_AFTER + timedelta(seconds=3)
            events.append(session_event("update", key, user, start=start, when=seen, seconds=60, nas_id=nas))
        else:  # ended a few minutes ago
            start = now - timedelta(minutes=40)
            stop = now - timedelta(minutes=5)
            events.append(session_event("start", key, user, start=start, when=start, nas_id=nas))
            events.append(session_event("stop", key, user, start=start, when=stop, seconds=2100, nas_id=nas))
    return events


async def test_two_replicas_count_each_start_stop_and_stale_session_once(replicas: list[Harness]) -> None:
    first = replicas[0]
    assert session_partitions(replicas[0]).isdisjoint(session_partitions(replicas[1]))
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [*sessions(now, 0, 30, "open"), *sessions(now, 30, 15, "stale-soon"), *sessions(now, 45, 15, "ended")]
    await first.publish(*[(e, TENANT) for e in batch])
    online_before = await brute(first, now)
    assert online_before[ALL_NAS] == 45  # 30 open + 15 not stale yet at `now`
    await assert_exact(replicas, after=now + timedelta(seconds=4))  # the 15 went stale in between
    assert (await counter_rows(first))[0][ALL_NAS] == 30

    # Stops for a third of the open sessions and new ones, applied by both consumers while both workers run.
    later = datetime.now(UTC).replace(microsecond=0)
    stops: list[DomainEvent] = []
    for n in range(0, 30, 3):
        start = now - timedelta(minutes=10 + n % 7)
        stops.append(session_event("stop", f"s{n}", f"u{n}", start=start, when=later, seconds=600, nas_id=NAS[n % 3]))
    await first.publish(*[(e, TENANT) for e in [*stops, *sessions(later, 60, 12, "open")]])
    await asyncio.sleep(0.5)  # a few worker rounds on both replicas
    await assert_exact(replicas, after=later + timedelta(seconds=1))
    assert (await counter_rows(first))[0][ALL_NAS] == 30 - 10 + 12


async def test_two_workers_moving_the_same_rows_at_once_count_the_drop_once(replicas: list[Harness]) -> None:
    """Two workers' `move_on` in transactions open at the same time (the second starts before the first commits):
    the second waits for the first's locks and adds only what lies after the first's `as_of`."""
    db = replicas[0].service.runtime.database
    schema = f"online_race_{TENANT[-6:]}"
    _, routes = await empty_read_model(db, schema)
    now = datetime.now(UTC).replace(microsecond=0)
    events = sessions(now, 0, 12, "stale-soon")  # online for 3 more seconds after `now`
    async with db.transaction() as session:
        await routes.apply(session, [Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in events])

    async def level() -> int:
        async with db.engine.connect() as conn:
            found = await conn.scalar(
                text(f'SELECT level FROM "{schema}".online_levels WHERE tenant_id = :t AND nas_id = :n'),
                {"t": TENANT, "n": ALL_NAS},
            )
        return int(found)

    assert await level() == 12
    async with db.transaction() as first:
        assert await move_on(first, schema, now + timedelta(seconds=60)) == 4  # 3 NAS + the tenant
        second = asyncio.create_task(_move_on_alone(db, schema, now + timedelta(seconds=61)))
        await asyncio.sleep(0.5)  # the second is waiting for the first's row locks
        assert not second.done()
    await second
    assert await level() == 0  # the 12 went stale once, not twice


async def _move_on_alone(db: Database, schema: str, now: datetime) -> int:
    async with db.transaction() as session:
        return await move_on(session, schema, now)
