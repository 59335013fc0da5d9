"""The Alembic revisions build exactly the tables the code uses, with seed 001's indexes, on a fresh database."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bss_runtime.migrations import upgrade
from bss_testkit.plugin import plain_postgres_url
from customers.adapters.tables import metadata
from customers.entrypoints.app import MIGRATIONS

pytestmark = pytest.mark.timeout(120)


async def test_migrations_match_the_tables_and_create_the_seed_indexes(fresh_database):
    url = await fresh_database("customers_migrations")
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

    conn = await asyncpg.connect(plain_postgres_url(url))
    try:
        rows = await conn.fetch("select indexname, indexdef from pg_indexes where tablename = 'customers'")
        tables = {
            r["tablename"] for r in await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        }
    finally:
        await conn.close()
    indexes = {r["indexname"]: r["indexdef"].split(" USING btree ")[1] for r in rows}
    assert indexes["ix_customer_service_location"] == (
        "(tenant_id, service_country, lower((service_state_province)::text), lower((service_city)::text))"
    )
    assert indexes["ix_customer_installation_status"] == "(tenant_id, installation_status)"
    assert indexes["ix_customer_connection_type"] == "(tenant_id, connection_type)"
    assert tables == {
        "alembic_version", "outbox", "processed_events", "partners", "customers", "subscribers",
        "subscriber_status_changes", "subscriber_requests", "bulk_operations", "bulk_items",
    }  # fmt: skip
