"""`python -m reporting.rebuild` replays every source topic into fresh tables and swaps them in: the rebuilt
state equals the incremental one row by row, the reports answer the same, and the service carries on."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from reporting.adapters.tables import live

from .reporting_support import Harness, new_tenant, payment, running_reporting
from .test_aging import AS_OF, seed_receivables
from .test_analytics_revenue import answers as analytics_answers
from .test_analytics_revenue import seed_year
from .test_blocked_customers import seed_collections_book
from .test_services_export import seed_services
from .test_sessions_history import seed_sessions
from .test_sla_breaches import seed_breaches

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
async def own(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Harness]:
    """A service of its own: the rebuild replays its topics from the start, which must hold only its events."""
    async with running_reporting(
        await fresh_database("reporting_rebuild"), kafka_bootstrap, f"{topic_prefix}rebuild."
    ) as h:
        yield h


async def snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in live.model_tables:
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        rows = await h.rows(f"SELECT {columns} FROM readmodel.{table.name} ORDER BY {columns}")
        out[table.name] = [tuple(r) for r in rows]
    return out


async def structure(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Columns and index definitions of the live schema (migrated at first, created by the rebuild later)."""
    columns = await h.rows(
        "SELECT table_name, column_name, ordinal_position, data_type, character_maximum_length, is_nullable, "
        "column_default FROM information_schema.columns WHERE table_schema = 'readmodel' "
        "AND table_name NOT LIKE 'sessions\\_y%' ORDER BY 1, 3"
    )
    indexes = await h.rows(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'readmodel' "
        "AND tablename NOT LIKE 'sessions\\_y%' ORDER BY 1, 2"
    )
    partitions = await h.rows(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'readmodel' AND c.relispartition AND c.relkind = 'r' ORDER BY 1"
    )
    return {"columns": [tuple(r) for r in columns], "indexes": [tuple(r) for r in indexes],
            "partitions": [tuple(r) for r in partitions]}  # fmt: skip


async def reports(h: Harness, tenants: list[str]) -> list[Any]:
    out = []
    for t in tenants:
        out.append(await h.ok("blocked-customers", t, "admin"))
        out.append(await h.ok("aging/by-partner", t, "admin", as_of=AS_OF.isoformat()))
        out.append(await h.ok("aging/by-region", t, "admin"))
        out.append(await h.ok("sla-breaches", t, "admin"))
        sessions = await h.ok("sessions/history", t, "admin")
        out.append({k: v for k, v in sessions["summary"].items() if not k.startswith("period")})
        out.append(sessions["sessions"])
        out.append((await h.get("services/export", t, "admin", include_suspended="true")).text)
        out.extend(await analytics_answers(h, t))
    return out


async def rebuild(h: Harness, *args: str) -> tuple[int, dict[str, Any]]:
    env = os.environ | {
        "DATABASE_URL": h.settings.database_url,
        "KAFKA_BOOTSTRAP_SERVERS": h.settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": h.settings.kafka_topic_prefix,
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "reporting.rebuild", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=240)
    assert process.returncode is not None
    lines = out.decode().strip().splitlines()
    assert lines, err.decode()[-3000:]
    return process.returncode, json.loads(lines[-1])


async def test_rebuilt_state_equals_the_incremental_one_row_by_row(own: Harness) -> None:
    tenants = [new_tenant() for _ in range(6)]
    await seed_collections_book(own, tenants[0])
    await seed_receivables(own, tenants[1])
    await seed_breaches(own, tenants[2])
    await seed_sessions(own, tenants[3])
    await seed_services(own, tenants[4])
    await seed_year(own, tenants[5])  # revenue analytics: subscription, invoice, payment and session events
    applied = await own.scalar("SELECT count(*) FROM readmodel.processed_events")
    incremental, shape, answers = await snapshot(own), await structure(own), await reports(own, tenants)
    assert sum(map(len, incremental.values())) > 100

    # Damage the live tables: --verify finds exactly that, and changes nothing.
    damage = (
        "UPDATE readmodel.invoices SET balance_minor = balance_minor + 1 WHERE tenant_id = :t AND invoice_id = 'a1'"
    )
    assert await own.execute(damage, t=tenants[1]) == 1
    loss = "DELETE FROM readmodel.sessions WHERE tenant_id = :t AND session_key = 'K3'"
    assert await own.execute(loss, t=tenants[3]) == 1
    code, report = await rebuild(own, "--verify")
    assert (code, report["differences"], report["swapped"]) == (1, {"invoices": [1, 1], "sessions": [0, 1]}, False)
    assert report["applied"] == applied and report["failed"] == 0
    assert await own.scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'readmodel_rebuild'") == 0

    # The rebuild replaces the damaged tables with ones replayed from the topics.
    code, report = await rebuild(own)
    assert (code, report["swapped"], report["applied"], report["failed"]) == (0, True, applied, 0)
    assert await snapshot(own) == incremental
    assert await structure(own) == shape  # created by the rebuild exactly as the migration did
    assert await reports(own, tenants) == answers

    # The running service carries on, on the new tables.
    before = (await own.ok("aging/by-partner", tenants[1], "finance"))[0]["total_outstanding_minor"]
    await own.publish((payment("a1", "c1", 400, datetime.now(UTC)), tenants[1]))
    after = (await own.ok("aging/by-partner", tenants[1], "finance"))[0]["total_outstanding_minor"]
    assert before - after == 400
