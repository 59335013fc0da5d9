"""The service's own database: one async engine, sessions that are units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Stable constraint names, so that Alembic migrations can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class Database:
    """`pool_size` connections are kept open; up to `max_overflow` more (default: as many) are opened when all
    are in use and closed again when returned while the pool is full. A process whose concurrency stays above
    `pool_size` therefore opens and closes a connection per request: size the pool for the concurrency
    (`DB_POOL_SIZE`, bench/http).

    A connection taken from the pool is always checked locally, without a round trip: one the server closed
    (a PostgreSQL restart, `pg_terminate_backend`, an idle timeout: the driver saw the socket close) is
    discarded and another one taken, so its request never sees it. `pre_ping` adds a round trip test on top
    (asyncpg's ping is BEGIN, an empty query and ROLLBACK: three round trips per checkout); it also catches a
    connection whose socket still looks open but leads nowhere (a silent network partition). Without it such a
    connection fails the one request that uses it, and SQLAlchemy then invalidates every connection opened
    before that moment, so the next requests get new ones."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int | None = None,
        pre_ping: bool = True,
        echo: bool = False,
    ) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size if max_overflow is None else max_overflow,
            pool_pre_ping=pre_ping,
            echo=echo,
            connect_args={"server_settings": {"timezone": "UTC", "application_name": "ispbss"}},
        )
        event.listen(self.engine.sync_engine, "checkout", _discard_if_closed)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _discard_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pool checkout hook: a connection whose socket the server closed is replaced (the pool retries the
    checkout on DisconnectionError). asyncpg notices the close as soon as the event loop reads the socket's end,
    so this costs no round trip."""
    driver = getattr(dbapi_connection, "_connection", None)  # asyncpg's Connection inside SQLAlchemy's adapter
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this connection")
