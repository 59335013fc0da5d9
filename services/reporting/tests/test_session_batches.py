"""Session events applied a batch at a time give exactly what applying them one by one gives.

- `fold` (the in-memory step of the batch path) against a plain reference that applies one event after the
  other, over random streams (hypothesis): random batch boundaries, duplicates, events of a session out of
  order, a Stop before its Start, start times that drift, a session key reused days later, NAS resets.
- The whole batch path on PostgreSQL (EventRoutes, SQL upserts, rollups, NAS resets in between) against one
  event per transaction, over random streams with redeliveries: every read-model table equal row for row.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bss_contracts import DomainEvent, Envelope
from bss_runtime.db import Database
from reporting.domain.sessions import START_DRIFT, NasReset, SessionRow, close_by_nas, fold, merge, reset_lookup
from reporting.service_layer.rebuild import compare

from .reporting_support import empty_read_model, nas_reset, session_event

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)
RESETS = [
    ("t1", "nas-1", NasReset(T0 + timedelta(minutes=50), "NAS-Reboot")),
    ("t2", "nas-2", NasReset(T0 + timedelta(minutes=20), "NAS-Request")),
]


def reference(events: list[tuple[str, SessionRow]], first_reset: Any) -> set[tuple[str, SessionRow]]:
    """One event after the other, as the per-event path did: find the session's row, merge, apply the NAS rule."""
    rows: list[tuple[str, SessionRow]] = []
    for tenant, event in events:
        index = next(
            (
                i
                for i, (t, r) in enumerate(rows)
                if t == tenant and r.session_key == event.session_key
                and abs(r.start_time - event.start_time) <= START_DRIFT
            ),
            None,
        )  # fmt: skip
        current = None if index is None else rows[index][1]
        merged = merge(current, event)
        if merged is None:
            continue
        merged = close_by_nas(merged, first_reset(tenant, merged.nas_id, merged.start_time))
        if index is None:
            rows.append((tenant, merged))
        else:
            rows[index] = (tenant, merged)
    return set(rows)


def row(
    tenant: str, key: int, kind: str, minute: int, start_shift: int, octets: int, nas: int
) -> tuple[str, SessionRow]:
    start = T0 + timedelta(seconds=start_shift)
    when = T0 + timedelta(minutes=minute)
    stopped = kind == "stop"
    return tenant, SessionRow(
        session_key=f"K{key}", start_time=start, username=f"u{key}", acct_session_id=f"a{key}",
        nas_id=f"nas-{nas}", nas_ip_address="10.0.0.1", framed_ip_address=None, framed_ipv6_prefix=None,
        delegated_ipv6_prefix=None, calling_station_id=None, event_time=when, session_time_seconds=minute * 60,
        input_octets=octets, output_octets=octets * 2, stop_source="stop" if stopped else None,
        stop_time=when if stopped else None, terminate_cause="User-Request" if stopped else None,
    )  # fmt: skip


events_strategy = st.lists(
    st.builds(
        row,
        tenant=st.sampled_from(["t1", "t2"]),
        key=st.integers(0, 3),
        kind=st.sampled_from(["start", "update", "update", "stop"]),
        minute=st.integers(0, 90),
        start_shift=st.sampled_from([0, 0, 0, 3, -2, 3 * 86_400]),  # drift of seconds; the key reused days later
        octets=st.integers(0, 2**40),
        nas=st.integers(1, 2),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(events=events_strategy, cuts=st.lists(st.integers(0, 40), max_size=6), redeliver=st.booleans())
def test_fold_in_batches_equals_one_event_at_a_time(
    events: list[tuple[str, SessionRow]], cuts: list[int], redeliver: bool
) -> None:
    first_reset = reset_lookup(RESETS)
    bounds = sorted({0, len(events), *(c for c in cuts if c < len(events))})
    stored: dict[tuple[str, str, datetime], SessionRow] = {}
    for lo, hi in itertools.pairwise(bounds):
        batch = events[lo:hi]
        if redeliver:  # a redelivered batch folds again over its own result: nothing changes
            batch = batch + batch
        state = [(tenant, r) for (tenant, _, _), r in stored.items()]
        for change in fold(state, batch, first_reset):
            if change.before is not None:
                assert stored[(change.tenant_id, change.before.session_key, change.before.start_time)] == change.before
            stored[(change.tenant_id, change.after.session_key, change.after.start_time)] = change.after
    assert {(tenant, r) for (tenant, _, _), r in stored.items()} == reference(events, first_reset)


# --- the whole batch path, on PostgreSQL -------------------------------------------------------------------------


def random_stream(rng: random.Random, sessions: int = 40) -> list[DomainEvent]:
    """Sessions on three NAS, their events partly out of order (some Stops before their Starts), duplicate
    interims, and two NAS resets in the middle of it all."""
    events: list[tuple[float, DomainEvent]] = []
    for k in range(sessions):
        start = T0 + timedelta(minutes=rng.randrange(0, 120))
        nas = f"nas-{rng.randrange(1, 4)}"
        key, user = f"S{k}", f"user{k % 7}"
        steps = rng.randrange(0, 4)
        kinds = ["start", *(["update"] * steps), *(["stop"] if rng.random() < 0.7 else [])]
        for i, kind in enumerate(kinds):
            when = start + timedelta(minutes=5 * i + (1 if kind == "stop" else 0))
            drift = timedelta(seconds=rng.choice([0, 0, 1, -1]))
            event = session_event(
                kind, key, user, start=start + drift, when=when, seconds=300 * i, octets_in=1000 * i + k,
                octets_out=3000 * i, nas_id=nas, cause="User-Request" if kind == "stop" else None,
            )  # fmt: skip
            order = when.timestamp() + rng.choice([0, 0, 0, 400, -400])  # some arrive late, or early
            events.append((order, event))
            if rng.random() < 0.1:
                events.append((order + 1, event))  # sent twice by the NAS: a second event with other id
    events.append(((T0 + timedelta(minutes=60)).timestamp(), nas_reset("nas-1", T0 + timedelta(minutes=60))))
    events.append(((T0 + timedelta(minutes=90)).timestamp(), nas_reset("nas-2", T0 + timedelta(minutes=85))))
    events.sort(key=lambda pair: pair[0])
    return [e for _, e in events]


@pytest.fixture
async def database(fresh_database: Any) -> AsyncIterator[Database]:
    db = Database(await fresh_database("reporting_batches"), pool_size=2)
    yield db
    await db.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batches_with_redeliveries_give_the_one_by_one_read_model(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    envelopes = [Envelope.wrap(e, source="/tests", tenant_id="isp-batches") for e in random_stream(rng)]

    one_by_one, routes = await empty_read_model(database, f"one_by_one_{seed}")
    for envelope in envelopes:
        async with database.transaction() as session:
            await routes.apply(session, [envelope])

    batched, routes = await empty_read_model(database, f"batched_{seed}")
    i = 0
    while i < len(envelopes):
        size = rng.randrange(1, 60)
        chunk = envelopes[i : i + size]
        if rng.random() < 0.3:  # redelivered: a batch partly made of events applied already
            chunk = envelopes[max(0, i - rng.randrange(1, 20)) : i] + chunk
        async with database.transaction() as session:
            outcomes = await routes.apply(session, chunk)
        assert outcomes.count("processed") == min(size, len(envelopes) - i)
        i += size

    async with database.engine.connect() as conn:
        assert await compare(conn, one_by_one, batched) == {}
        counted = await conn.scalar(text(f"SELECT count(*) FROM {batched.schema}.sessions"))
        closed = await conn.scalar(text(f"SELECT count(*) FROM {batched.schema}.sessions WHERE stop_source = 'nas'"))
        hours = await conn.scalar(text(f"SELECT sum(sessions) FROM {batched.schema}.session_hours"))
    assert counted == 40 and hours == 40  # every session once; the rollup counts each once
    assert closed > 0  # the resets did close sessions: the comparison covered that rule
