"""Alembic, driven from code: each service keeps its migrations in `<service>/migrations`.

A service's `migrations/env.py` is just `run_env(metadata)`; `upgrade(url, dir)` applies them (at start-up,
in tests and in `make up`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


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
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as conn:
            await conn.run_sync(migrate)
        await engine.dispose()

    asyncio.run(main())
