"""Fixtures of the runtime's tests."""

from __future__ import annotations

import pytest

from bss_runtime.db import Database

from .support import metadata


@pytest.fixture
async def db(fresh_database):
    """A fresh database with the runtime's tables and the test ledger."""
    database = Database(await fresh_database("runtime"))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.close()
