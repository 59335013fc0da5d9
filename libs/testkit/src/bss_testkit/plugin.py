"""Pytest plugin: real Kafka and PostgreSQL for tests, found by the three-way rule.

1. An environment variable names the server (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL): use it.
2. Else a Docker engine answers: start a throwaway container (testcontainers).
3. Else start the local server with deploy/local/kafka.sh or deploy/local/postgres.sh (idempotent).

Nothing is ever skipped: infrastructure that cannot be reached fails the test with the reason.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import secrets
import subprocess
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

T = TypeVar("T")

# Tests run services (in-process and as processes) with the default JWT secret: say so, as local mode does.
os.environ.setdefault("ENVIRONMENT", "test")

FreshDatabase = Callable[[str], Awaitable[str]]

LOCAL_START_TIMEOUT_S = 600  # the first local Kafka start downloads its jars


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, on a private loop in a worker thread.

    A worker thread leaves the main thread's event loop (pytest-asyncio's) untouched.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


@functools.cache
def docker_available() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def repo_root() -> Path:
    """The nearest directory above this file (or the working directory) that holds deploy/local."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / "deploy" / "local").is_dir():
                return candidate
    pytest.fail("cannot find the repository (a directory with deploy/local) above the testkit or the working dir")


def start_local(script: str) -> None:
    path = repo_root() / "deploy" / "local" / script
    try:
        done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [str(path), "start"], capture_output=True, text=True, timeout=LOCAL_START_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"`{path} start` could not run: {exc}")
    if done.returncode != 0:
        pytest.fail(f"`{path} start` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def plain_postgres_url(url: str) -> str:
    """asyncpg wants postgresql://; accept SQLAlchemy-style postgresql+driver:// too."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql"))


def database_url(server_url: str, database: str) -> str:
    """The SQLAlchemy asyncpg URL of `database` on the server of `server_url` (same credentials and query)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))


async def _check_kafka(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    await admin.close()


async def _check_postgres(url: str) -> None:
    conn = await asyncpg.connect(plain_postgres_url(url), timeout=10)
    await conn.close()


def _require(what: str, where: str, check: Coroutine[Any, Any, None]) -> None:
    try:
        run_async(check)
    except Exception as exc:
        pytest.fail(f"{what} at {where} is not usable: {type(exc).__name__}: {exc}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers ("host:port") of a running Kafka broker."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        _require("Kafka (KAFKA_BOOTSTRAP_SERVERS)", bootstrap, _check_kafka(bootstrap))
        yield bootstrap
    elif docker_available():
        try:  # testcontainers >= 4.15 moved the modules under .community
            from testcontainers.community.kafka import KafkaContainer
        except ImportError:
            from testcontainers.kafka import KafkaContainer

        container = (
            KafkaContainer()
            .with_kraft()
            .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .with_env("KAFKA_NUM_PARTITIONS", "3")
        )
        with container:
            yield container.get_bootstrap_server()
    else:
        start_local("kafka.sh")
        yield f"127.0.0.1:{os.environ.get('KAFKA_PORT', '59092')}"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A postgresql:// URL of a superuser on a running PostgreSQL server."""
    if url := os.environ.get("DATABASE_URL"):
        _require("PostgreSQL (DATABASE_URL)", urlsplit(url).netloc.rpartition("@")[2], _check_postgres(url))
        yield plain_postgres_url(url)
    elif docker_available():
        try:
            from testcontainers.community.postgres import PostgresContainer
        except ImportError:
            from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(
            "postgres:15",
            username="postgres",
            password="postgres",  # noqa: S106 - a throwaway test container
            dbname="postgres",
            driver=None,
        ).with_command("postgres -c max_connections=200 -c timezone=UTC")
        with container:
            yield container.get_connection_url()
    else:
        start_local("postgres.sh")
        yield f"postgresql://postgres:postgres@127.0.0.1:{os.environ.get('PG_PORT', '55432')}/postgres"


@pytest.fixture(scope="session")
def fresh_database(pg_admin_url: str) -> Iterator[FreshDatabase]:
    """`url = await fresh_database("billing")`: a new empty database `billing_<hex>`, dropped at session end."""
    created: list[str] = []

    async def make(prefix: str) -> str:
        name = f"{re.sub(r'[^a-z0-9_]', '_', prefix.lower())[:40]}_{secrets.token_hex(6)}"
        conn = await asyncpg.connect(plain_postgres_url(pg_admin_url), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return database_url(pg_admin_url, name)

    yield make

    async def drop_all() -> None:
        conn = await asyncpg.connect(plain_postgres_url(pg_admin_url), timeout=10)
        try:
            for name in created:
                # FORCE terminates the connections a test left open (pools, crashed consumers) first.
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    if created:
        run_async(drop_all())


@pytest.fixture(scope="session")
def topic_prefix(kafka_bootstrap: str) -> Iterator[str]:
    """A prefix like "t1a2b3c4." that keeps this session's Kafka topics apart from other sessions'.

    The session's topics are deleted at its end, so that a long-lived local broker does not pile them up.
    """
    prefix = f"t{secrets.token_hex(4)}."
    yield prefix
    try:
        run_async(_delete_topics(kafka_bootstrap, prefix))
    except Exception as exc:
        warnings.warn(f"could not delete the topics {prefix}*: {exc}", stacklevel=1)


async def _delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    try:
        if ours := [t for t in await admin.list_topics() if t.startswith(prefix)]:
            await admin.delete_topics(ours)
    finally:
        await admin.close()
