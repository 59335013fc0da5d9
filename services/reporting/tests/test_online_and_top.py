"""Online now and top users, kept ahead, against brute force on the real database.

- Online counter rows (`online_levels`): after random streams of session starts, updates, stops and NAS resets,
  applied a batch at a time through the live consumer's apply step, with the counters moved on (`move_on`) at
  random moments between batches, the level read at many moments (before and after the rows' `as_of`) equals
  the count of the sessions whose span covers that moment, per NAS and for the tenant.
- Top users (threshold algorithm over `usage_months`): over hundreds of subscribers with skewed and tied usage
  across three months, every ranking (bytes, duration, sessions), range and limit equals sorting the per-user
  sums of the sessions read model; and `usage_months` equals `usage_days` summed per month.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_runtime.db import Database
from reporting.analytics.adapters import usage as usage_repo
from reporting.analytics.adapters.concurrency import levels_at
from reporting.analytics.domain.concurrency import ALL_NAS, STALE_AFTER
from reporting.analytics.service_layer.online import move_on

from .reporting_support import empty_read_model, nas_reset, session_event

TENANT = "isp-online-top"


@pytest.fixture
async def database(fresh_database: Any) -> AsyncIterator[Database]:
    db = Database(await fresh_database("reporting_online_top"), pool_size=2)
    yield db
    await db.close()


def online_stream(rng: random.Random, now: datetime) -> list[DomainEvent]:
    """Sessions on three NAS around `now`: some stopped, some open and recent, some open and stale, a few with
    updates out of order, and NAS resets."""
    events: list[DomainEvent] = []
    for n in range(120):
        nas = f"nas-{rng.randrange(3)}"
        start = now + timedelta(minutes=rng.randrange(-240, 30))
        key, user = f"s{n}", f"u{n % 40}"
        events.append(session_event("start", key, user, start=start, when=start, nas_id=nas))
        for _ in range(rng.randrange(3)):
            seen = start + timedelta(minutes=rng.randrange(1, 120))
            events.append(session_event("update", key, user, start=start, when=seen, nas_id=nas))
        if rng.random() < 0.5:
            stop = start + timedelta(minutes=rng.randrange(0, 180))
            events.append(session_event("stop", key, user, start=start, when=stop, nas_id=nas))
    for _ in range(3):
        events.append(nas_reset(f"nas-{rng.randrange(3)}", now + timedelta(minutes=rng.randrange(-200, 20))))
    rng.shuffle(events)
    return events


async def brute_online(db: Database, schema: str, moment: datetime) -> dict[str, int]:
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    f"""
                    SELECT nas_id, count(*) FROM "{schema}".sessions
                    WHERE tenant_id = :t AND start_time <= :m
                      AND greatest(start_time, coalesce(stop_time, event_time + :stale)) > :m
                    GROUP BY nas_id
                    """
                ),
                {"t": TENANT, "m": moment, "stale": STALE_AFTER},
            )
        ).all()
    counts = {nas: int(n) for nas, n in rows}
    return {**counts, ALL_NAS: sum(counts.values())}


@pytest.mark.parametrize("seed", [1, 2])
async def test_online_counters_equal_the_sessions_online_at_every_moment(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    schema = f"online_{seed}"
    _, routes = await empty_read_model(database, schema)
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in online_stream(rng, now)]
    moments = sorted(now + timedelta(minutes=rng.randrange(-300, 200)) for _ in range(12))
    moved_to = now - timedelta(hours=5)
    position = 0
    while position < len(envelopes):
        size = rng.randrange(1, 40)
        async with database.transaction() as session:
            await routes.apply(session, envelopes[position : position + size])
        position += size
        if rng.random() < 0.5:  # the worker moves the counters on (never back), sometimes past the apply's now
            moved_to = max(moved_to, now + timedelta(minutes=rng.randrange(-240, 120)))
            async with database.transaction() as session:
                await move_on(session, schema, moved_to)
    assert await database_scalar(database, f'SELECT count(*) FROM "{schema}".online_levels') == 4  # 3 NAS + tenant
    busiest = 0
    for moment in [*moments, moved_to, now]:
        async with database.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            levels = await levels_at(raw.driver_connection, schema, TENANT, moment)
        expected = await brute_online(database, schema, moment)
        assert {k: v for k, v in levels.items() if v} == {k: v for k, v in expected.items() if v}, moment
        busiest = max(busiest, expected[ALL_NAS])
    assert busiest >= 10  # not trivially empty


async def database_scalar(db: Database, sql: str) -> Any:
    async with db.engine.connect() as conn:
        return await conn.scalar(text(sql))


def usage_stream(rng: random.Random, today: date) -> list[DomainEvent]:
    """Stopped sessions of 700 subscribers over three months: a few heavy users, many light ones, equal
    durations (ties), and a fifth with no bytes at all."""
    events: list[DomainEvent] = []
    first = datetime.combine(today - timedelta(days=75), datetime.min.time(), UTC)
    for n in range(2400):
        user = f"u{int(rng.paretovariate(1.2) * 7) % 700:03d}" if n % 3 else f"u{rng.randrange(700):03d}"
        start = first + timedelta(minutes=rng.randrange(75 * 24 * 60))
        seconds = rng.choice([600, 1200, 3600])
        stop = start + timedelta(seconds=seconds)
        silent = int(user[1:]) % 5 == 0
        octets_in = 0 if silent else rng.randrange(1, 10**9)
        octets_out = 0 if silent else rng.choice([0, rng.randrange(10**7)])
        events.append(
            session_event("stop", f"k{n}", user, start=start, when=stop, seconds=seconds, octets_in=octets_in,
                          octets_out=octets_out, nas_id=f"nas-{n % 4}")
        )  # fmt: skip
    return events


def brute_top(rows: list[Any], by: str, first: date, last: date, limit: int) -> list[Any]:
    """Every subscriber's sums over the sessions (username, UTC day of the latest record, bytes, seconds) whose
    day is in first..last, sorted by `by` descending, then username."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for username, day, octets_in, octets_out, seconds in rows:
        if first <= day <= last:
            s = sums[username]
            s[0] += 1
            s[1] += octets_in
            s[2] += octets_out
            s[3] += seconds
    metric = {"bytes": lambda s: s[1] + s[2], "duration": lambda s: s[3], "sessions": lambda s: s[0]}[by]
    ranked = sorted(sums.items(), key=lambda kv: (-metric(kv[1]), kv[0]))[:limit]
    return [(u, *s) for u, s in ranked]


async def test_top_users_equal_a_brute_force_ranking(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    summed: list[int] = []
    plain = usage_repo.top_by_sum

    async def counted(*args: Any) -> Any:
        summed.append(1)
        return await plain(*args)

    monkeypatch.setattr(usage_repo, "top_by_sum", counted)
    rng = random.Random(7)
    today = datetime.now(UTC).date()
    schema = "top_users"
    _, routes = await empty_read_model(database, schema)
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id=TENANT) for e in usage_stream(rng, today)]
    for i in range(0, len(envelopes), 500):
        async with database.transaction() as session:
            await routes.apply(session, envelopes[i : i + 500])
    months = await database_rows(
        database,
        f"""SELECT username, date_trunc('month', day)::date, sum(sessions), sum(input_octets), sum(output_octets),
                   sum(session_time_seconds) FROM "{schema}".usage_days GROUP BY 1, 2
            EXCEPT SELECT username, month, sessions, input_octets, output_octets, session_time_seconds
            FROM "{schema}".usage_months""",
    )
    assert months == []
    sessions = await database_rows(
        database,
        f"""SELECT username, (time AT TIME ZONE 'UTC')::date, input_octets, output_octets, session_time_seconds
            FROM "{schema}".sessions WHERE tenant_id = '{TENANT}'""",
    )
    assert await database_scalar(database, f'SELECT count(DISTINCT username) FROM "{schema}".usage_months') > 400
    ranges = [
        (today - timedelta(days=29), today),
        (today - timedelta(days=75), today),
        (today - timedelta(days=40), today - timedelta(days=35)),
        (today.replace(day=1), today),
        (today - timedelta(days=400), today - timedelta(days=200)),  # nobody
    ]
    asked = 0
    for depth, (first, last), by, limit in itertools.product(
        (5, usage_repo.FIRST_DEPTH), ranges, ("bytes", "duration", "sessions"), (1, 10, 100)
    ):
        monkeypatch.setattr(usage_repo, "FIRST_DEPTH", depth)  # 5: many rounds of the threshold algorithm
        async with database.engine.connect() as conn:
            got = await usage_repo.top(conn, schema, TENANT, by, first, last, limit)  # type: ignore[arg-type]
        asked += 1
        mine = [
            (r["username"], r["sessions"], r["input_octets"], r["output_octets"], r["session_time_seconds"])
            for r in got
        ]
        assert mine == brute_top(sessions, by, first, last, limit), (by, first, last, limit)
    assert asked == 90 and len(summed) < asked / 3  # mostly answered by the threshold algorithm


async def database_rows(db: Database, sql: str) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())
