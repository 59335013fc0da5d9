"""The open-session tracker against PostgreSQL: whichever of a session's events and its NAS's reset is read
first, the session is closed once, with its last counters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bss_contracts.events.radius import NasResetReason, SessionStopped
from bss_runtime.db import Database
from bss_runtime.migrations import upgrade
from bss_runtime.outbox import EventWriter
from radius_ingest.adapters.records import encode_accounting
from radius_ingest.adapters.tables import runtime_tables, sessions
from radius_ingest.config import Settings
from radius_ingest.domain.accounting import interpret
from radius_ingest.domain.nas import NasClient
from radius_ingest.entrypoints.app import MIGRATIONS
from radius_ingest.entrypoints.workers import SessionTracker
from radius_ingest.service_layer.session_tracker import apply_nas_reset, apply_session_events

from .support import DICTIONARY, GIGA

CLIENT = NasClient("acme", "bras-1", "192.0.2.1/32", b"s")
T0 = 1767400000


@pytest.fixture
async def db(fresh_database: Any) -> AsyncIterator[Database]:
    url = await fresh_database("radius_tracker")
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    database = Database(url)
    yield database
    await database.close()


def envelope(user: str, status: str, at: int, nas_ip: str = "10.0.0.1", **counters: int) -> str:
    attributes = {"User-Name": user, "Acct-Session-Id": f"s-{user}", "NAS-IP-Address": nas_ip, "Event-Timestamp": at,
                  "Acct-Status-Type": DICTIONARY.value_code("Acct-Status-Type", status)} | counters  # fmt: skip
    accounting = interpret(attributes, CLIENT, "192.0.2.1", at, DICTIONARY)
    assert accounting is not None
    return encode_accounting(accounting, tenant_id="acme", source="/tests").value.decode()


async def outbox_stops(db: Database) -> list[dict[str, Any]]:
    async with db.transaction() as session:
        payloads = (await session.scalars(select(runtime_tables.outbox.c.payload))).all()
    return [json.loads(p)["data"] for p in payloads if json.loads(p)["type"] == SessionStopped.event_type]


async def reset(
    db: Database, events: EventWriter, at: int, nas_ip: str = "10.0.0.1", reason: NasResetReason = "accounting-on"
) -> int:
    async with db.transaction() as session:
        return await apply_nas_reset(session, events, tenant_id="acme", nas_id="bras-1", nas_ip=nas_ip,
                                     reset_at=datetime.fromtimestamp(at, UTC), reason=reason)  # fmt: skip


async def record(db: Database, events: EventWriter, *batch: str) -> int:
    async with db.transaction() as session:
        return await apply_session_events(session, events, list(batch))


async def test_sessions_read_before_the_reset_are_closed_by_it(db: Database) -> None:
    events = EventWriter(runtime_tables, source="/tests")
    await record(db, events, envelope("a", "Start", T0), envelope("b", "Start", T0),
                 envelope("a", "Interim-Update", T0 + 300, **{"Acct-Session-Time": 300, "Acct-Input-Gigawords": 2}),
                 envelope("b", "Stop", T0 + 60, **{"Acct-Session-Time": 60}),
                 envelope("c", "Start", T0, nas_ip="10.0.0.2"))  # fmt: skip
    await record(db, events, envelope("a", "Start", T0))  # a redelivered old event changes nothing
    assert await reset(db, events, T0 + 1000) == 1
    assert await reset(db, events, T0 + 1000) == 0  # the same reset again: nothing left to close
    [stop] = await outbox_stops(db)
    assert stop["username"] == "a" and stop["input_octets"] == 2 * GIGA and stop["terminate_cause"] == "NAS-Reboot"
    assert stop["closed_by_nas_reset"] == "accounting-on"  # consumers tell it from a Stop the NAS sent
    assert stop["event_time"].startswith(datetime.fromtimestamp(T0 + 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S"))


async def test_sessions_read_after_the_reset_are_closed_once_and_new_sessions_stay_open(db: Database) -> None:
    events = EventWriter(runtime_tables, source="/tests")
    assert await reset(db, events, T0 + 1000, reason="accounting-off") == 0
    # Events from before the reset arrive later (another topic, another partition): still closed, once.
    assert await record(db, events, envelope("d", "Start", T0), envelope("e", "Start", T0 + 2000)) == 1
    assert await record(db, events, envelope("d", "Interim-Update", T0 + 300, **{"Acct-Session-Time": 300})) == 0
    stops = await outbox_stops(db)
    assert [(s["username"], s["terminate_cause"], s["closed_by_nas_reset"]) for s in stops] == [
        ("d", "NAS-Request", "accounting-off")
    ]
    async with db.transaction() as session:
        state = dict((await session.execute(select(sessions.c.username, sessions.c.closed))).tuples().all())
    assert state == {"d": True, "e": False}


async def test_a_record_that_is_not_json_is_skipped_and_the_rest_of_its_batch_kept(db: Database) -> None:
    # The batch is copied into a jsonb column: PostgreSQL refuses the whole COPY; the tracker retries without it.
    tracker = SessionTracker(db, EventWriter(runtime_tables, source="/tests"), Settings())
    await tracker._apply([envelope("f", "Start", T0), "not json {", envelope("g", "Start", T0)])
    async with db.transaction() as session:
        users = set((await session.scalars(select(sessions.c.username))).all())
    assert users == {"f", "g"}
