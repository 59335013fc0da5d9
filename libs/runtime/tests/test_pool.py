"""The pool without a ping: a connection the server closed (what a PostgreSQL restart does to every connection)
is replaced as it is taken, so no request fails on it (bss_runtime.db)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from bss_runtime.db import Database
from bss_testkit.events import eventually
from bss_testkit.plugin import plain_postgres_url

pytestmark = pytest.mark.timeout(60)
BACKEND = text("select pg_backend_pid()")


async def terminate_backends(url: str, pids: set[int]) -> None:
    """pg_terminate_backend each of `pids` (the server closes their sockets, as on a restart) and wait until
    they are gone and the closes have reached this process's event loop."""
    admin = await asyncpg.connect(plain_postgres_url(url))
    try:
        for pid in pids:
            assert await admin.fetchval("select pg_terminate_backend($1)", pid)

        async def gone() -> bool:
            left = await admin.fetchval("select count(*) from pg_stat_activity where pid = any($1)", list(pids))
            return left == 0

        await eventually(gone, timeout=10)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the loop reads each socket's end


async def test_connections_the_server_closed_are_replaced_without_a_ping_and_without_a_failed_request(
    fresh_database,
) -> None:
    url = await fresh_database("pool")
    db = Database(url, pool_size=3, max_overflow=0, pre_ping=False)
    try:
        started = asyncio.Event()

        async def hold() -> int:  # three transactions at once: the pool opens all three connections
            async with db.transaction() as session:
                pid = int((await session.execute(BACKEND)).scalar_one())
                await started.wait()
                return pid

        tasks = [asyncio.create_task(hold()) for _ in range(3)]
        await asyncio.sleep(0.5)
        started.set()
        before = set(await asyncio.gather(*tasks))
        assert len(before) == 3

        await terminate_backends(url, before)

        after = set()
        for _ in range(6):  # every pooled connection is dead: each must be replaced, none may fail
            async with db.transaction() as session:
                after.add(int((await session.execute(BACKEND)).scalar_one()))
        assert after and not after & before
    finally:
        await db.close()


async def test_without_the_check_a_closed_connection_fails_its_request(fresh_database) -> None:
    """The situation above is real: a plain pool without ping hands out the dead connection."""
    url = await fresh_database("pool")
    engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    try:
        async with engine.connect() as conn:
            pid = int((await conn.execute(BACKEND)).scalar_one())
        await terminate_backends(url, {pid})
        with pytest.raises(DBAPIError):
            async with engine.connect() as conn:
                await conn.execute(BACKEND)
    finally:
        await engine.dispose()
