"""`bssctl outbox` on a real service database: the backlog and the oldest unsent row, thresholds as exit 1."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from bss_runtime.db import new_metadata
from bss_runtime.tables import add_runtime_tables
from bss_testkit.plugin import plain_postgres_url

from .support import Bssctl

pytestmark = pytest.mark.timeout(120)


async def _outbox_database(fresh_database: Any, schema: str | None = None) -> str:
    """A database with the runtime's outbox: 3 unsent rows (the oldest 10 minutes old, one failing) and 1 sent;
    in `schema` (as reporting keeps its tables) or the default one."""
    url: str = await fresh_database("bssctl_outbox")
    metadata = MetaData(schema=schema) if schema else new_metadata()
    add_runtime_tables(metadata)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        if schema:
            await conn.exec_driver_sql(f'create schema "{schema}"')
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    now = datetime.now(UTC)
    rows = [
        (now - timedelta(minutes=10), None, 0, None),
        (now - timedelta(minutes=5), None, 4, "KafkaTimeoutError"),
        (now - timedelta(minutes=1), None, 0, None),
        (now - timedelta(hours=1), now - timedelta(minutes=59), 1, None),
    ]
    conn = await asyncpg.connect(plain_postgres_url(url), server_settings={"search_path": schema or "public"})
    try:
        for created, published, attempts, error in rows:
            await conn.execute(
                "insert into outbox (event_id, tenant_id, topic, key, event_type, payload, headers, created_at,"
                " published_at, attempts, last_error) values ($1, 'isp-1', 'bss.billing.invoice', 'k', 't', '\\x7b7d',"
                " '{}', $2, $3, $4, $5)",
                uuid.uuid4(),
                created,
                published,
                attempts,
                error,
            )
    finally:
        await conn.close()
    return url


async def test_outbox_shows_each_service_backlog_and_oldest_unsent_row(bssctl: Bssctl, fresh_database: Any):
    url = await _outbox_database(fresh_database)
    ran = await bssctl("outbox", "--json", BILLING_DATABASE_URL=url)
    assert ran.code == 0, ran
    rows = {r["service"]: r for r in ran.json()}
    assert set(rows) == {"customers", "billing", "dunning", "radius-ingest", "reporting", "support"}
    billing = rows["billing"]
    assert (billing["backlog"], billing["max_attempts"], billing["last_error"]) == (3, 4, "KafkaTimeoutError")
    assert 600 <= billing["oldest_age_s"] < 700
    assert all(rows[s]["configured"] is False for s in rows if s != "billing")

    table = (await bssctl("outbox", BILLING_DATABASE_URL=url)).lines()
    assert table[0].split() == [
        "SERVICE",
        "DATABASE",
        "CONFIGURED",
        "BACKLOG",
        "OLDEST_UNSENT",
        "OLDEST_AGE_S",
        "MAX_ATTEMPTS",
    ]
    [customers] = [line for line in table if line.startswith("customers ")]
    assert customers.split()[2:] == ["False", "-", "-", "-", "-"]

    only = await bssctl("outbox", "--service", "billing", BILLING_DATABASE_URL=url)
    assert only.code == 0 and len(only.lines()) == 2
    assert only.lines()[1].split()[:4] == ["billing", "BILLING_DATABASE_URL", "True", "3"]

    assert (await bssctl("outbox", "--max-backlog", "3", BILLING_DATABASE_URL=url)).code == 0
    over = await bssctl("outbox", "--max-backlog", "2", BILLING_DATABASE_URL=url)
    assert over.code == 1 and over.err.strip() == "bssctl: outbox over threshold: billing"
    assert (await bssctl("outbox", "--max-age", "300", BILLING_DATABASE_URL=url)).code == 1
    assert (await bssctl("outbox", "--max-age", "900", BILLING_DATABASE_URL=url)).code == 0


async def test_an_unreachable_database_is_one_line_and_exit_3(bssctl: Bssctl):
    ran = await bssctl("outbox", "--service", "dunning", DUNNING_DATABASE_URL="postgresql+asyncpg://x:y@127.0.0.1:9/z")
    assert ran.code == 3 and "Traceback" not in ran.err and len(ran.err.strip().splitlines()) == 1, ran


async def test_an_outbox_in_a_schema_of_its_own_is_found(bssctl: Bssctl, fresh_database: Any) -> None:
    """Reporting keeps its tables, the outbox among them, in its `readmodel` schema."""
    url = await _outbox_database(fresh_database, schema="readmodel")
    ran = await bssctl("outbox", "--service", "reporting", "--json", REPORTING_DATABASE_URL=url)
    assert ran.code == 0, ran
    [reporting] = ran.json()
    assert (reporting["backlog"], reporting["max_attempts"], reporting["last_error"]) == (3, 4, "KafkaTimeoutError")
