"""Alembic, driven from code: each service keeps its migrations in `<service>/migrations`.

A service's `migrations/env.py` is just `run_env(metadata)`; `upgrade(url, dir)` applies them (at start-up,
in tests and in `make up`). Instances that start together migrate one after the other (an advisory lock).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATION_LOCK = 0x6D696772  # the advisory lock key held while one process migrates a database ("migr")


def alembic_config(database_url: str, migrations_dir: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, migrations_dir: Path, revision: str = "head") -> None:
    """Apply migrations (blocking; from async code use `await asyncio.to_thread(upgrade, ...)`)."""
    command.upgrade(alembic_config(database_url, migrations_dir), revision)


def run_env(metadata: MetaData) -> None:
    """The body of a service's alembic env.py (online mode, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url

    def migrate(connection: Connection) -> None:
        # Several processes of one service (HTTP_WORKERS, replicas) start at once: one migrates, the others
        # wait for it here and then find the database at head.
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(migrate)
        await engine.dispose()

    asyncio.run(main())


def create_runtime_tables() -> None:
    """For a service's first migration: the runtime's `outbox` and `processed_events` tables, as declared in
    `bss_runtime.tables` (one definition, not one copy per service)."""
    from alembic import op

    from bss_runtime.db import new_metadata
    from bss_runtime.tables import add_runtime_tables

    tables = add_runtime_tables(new_metadata())
    bind = op.get_bind()
    tables.outbox.create(bind)
    tables.processed_events.create(bind)


def drop_runtime_tables() -> None:
    from alembic import op

    op.drop_table("processed_events")
    op.drop_table("outbox")
