"""Fixtures of the dunning tests: the service on a fresh database and its own topics, a real SMTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bss_runtime.clock import ManualClock
from bss_testkit.receivers import SmtpServer
from dunning.config import Settings
from dunning.entrypoints.app import Dunning, build_runtime, create_app

from .support import START, RunningDunning, serving

StartDunning = Callable[..., Awaitable[RunningDunning]]


@pytest.fixture
def prefix(topic_prefix: str, request: pytest.FixtureRequest) -> str:
    """Topics of this test only (the service creates them when it starts)."""
    return f"{topic_prefix}{request.node.name[:24]}."


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def start_dunning(fresh_database: Any, kafka_bootstrap: str, prefix: str) -> AsyncIterator[StartDunning]:
    """`await start_dunning(smtp_port=...)`: the whole service (HTTP, consumers, relay, workers) in-process.

    Time is a ManualClock: tests move it and run what became due (`RunningDunning.advance`). With
    `workers=True` the background scheduler also polls, as in production.
    """
    async with AsyncExitStack() as stack:

        async def start(
            *, smtp_port: int, workers: bool = False, clock: ManualClock | None = None, **overrides: Any
        ) -> RunningDunning:
            settings = Settings(
                database_url=await fresh_database("dunning"), kafka_bootstrap_servers=kafka_bootstrap,
                kafka_topic_prefix=prefix, smtp_port=smtp_port, worker_enabled=workers, worker_poll_seconds=0.05,
                webhook_backoff_seconds=0.01, outbox_poll_seconds=0.02, **overrides,
            )  # fmt: skip
            clock = clock or ManualClock(START)
            app = create_app(settings, clock=clock)
            client = await stack.enter_async_context(serving(app, "http://dunning"))
            return RunningDunning(app.state.service, app, client, clock, settings)

        yield start


@pytest.fixture
async def offline_dunning(fresh_database: Any) -> AsyncIterator[Callable[..., Awaitable[Dunning]]]:
    """`await offline_dunning(smtp_port=...)`: the service's parts on a migrated database, not started.

    For the durable schedule, which lives in the database alone: tests create executions with the use cases
    and drive the scheduler themselves. `database_url=` shares a database between two instances.
    """
    services: list[Dunning] = []

    async def build(
        *, smtp_port: int, clock: ManualClock | None = None, database_url: str | None = None, **overrides: Any
    ) -> Dunning:
        settings = Settings(
            database_url=database_url or await fresh_database("dunning"), smtp_port=smtp_port, worker_enabled=False,
            webhook_backoff_seconds=0.01, **overrides,
        )  # fmt: skip
        service = build_runtime(settings, clock=clock or ManualClock(START))
        await service.runtime.migrate()
        services.append(service)
        return service

    yield build
    for service in services:
        await service.runtime.database.close()
