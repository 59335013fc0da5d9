"""The Alembic revisions (0001 tables, 0002 subscription events and plan changes) build exactly the tables the
code uses, and revision 0002 upgrades a database that already holds subscriptions."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from billing.adapters.tables import metadata
from billing.entrypoints.app import MIGRATIONS
from bss_runtime.migrations import upgrade
from bss_testkit.plugin import plain_postgres_url

pytestmark = pytest.mark.timeout(120)


async def test_migrations_match_the_tables(fresh_database):
    url = await fresh_database("billing_migrations")
    await asyncio.to_thread(upgrade, url, MIGRATIONS)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_0002_keeps_existing_subscriptions_and_leaves_their_history_to_write(fresh_database):
    url = await fresh_database("billing_migrations_0001")
    await asyncio.to_thread(upgrade, url, MIGRATIONS, "0001")
    conn = await asyncpg.connect(plain_postgres_url(url))
    try:
        await conn.execute(
            "INSERT INTO plans (id, tenant_id, code, name, currency, price_minor, overage_price_per_gb_minor,"
            " overage_increment_octets, tax_rate_bp) VALUES ('p1', 't1', 'BASIC', 'Basic', 'EUR', 2999, 0, 1, 0)"
        )
        await conn.execute(
            "INSERT INTO subscriptions (id, tenant_id, subscriber_id, customer_id, plan_id, currency, start_date,"
            " status) VALUES ('s1', 't1', 'sub1', 'c1', 'p1', 'EUR', '2025-01-01', 'active')"
        )
        await asyncio.to_thread(upgrade, url, MIGRATIONS)
        row = await conn.fetchrow("SELECT started_event_at, canceled_event_at, ended_event_at FROM subscriptions")
        missing = await conn.fetchval(
            "SELECT count(*) FROM subscriptions WHERE started_event_at IS NULL OR (end_date IS NOT NULL AND"
            " canceled_event_at IS NULL) OR (status = 'ended' AND ended_event_at IS NULL)"
        )
    finally:
        await conn.close()
    assert tuple(row) == (None, None, None)
    assert missing == 1
