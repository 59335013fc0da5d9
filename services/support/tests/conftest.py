"""Fixtures of the support tests: the service in-process on a fresh database and its own topics (one start per
module), with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from bss_runtime.clock import ManualClock
from support.config import Settings
from support.entrypoints.app import create_app

from .support_helpers import START, RunningSupport, serving

StartSupport = Callable[..., Awaitable[RunningSupport]]


@pytest.fixture(scope="module")
def prefix(topic_prefix: str, request: pytest.FixtureRequest) -> str:
    return f"{topic_prefix}{request.module.__name__.rsplit('.', 1)[-1][:24]}."


@pytest.fixture(scope="module")
async def start_support(fresh_database: Any, kafka_bootstrap: str, prefix: str) -> AsyncIterator[StartSupport]:
    """`await start_support()`: the whole service (HTTP, consumers, relay); `database_url=` starts a replica on
    the same database (same consumer group)."""
    async with AsyncExitStack() as stack:

        async def start(*, database_url: str | None = None, clock: ManualClock | None = None,
                        **overrides: Any) -> RunningSupport:  # fmt: skip
            settings = Settings(
                database_url=database_url or await fresh_database("support"), kafka_bootstrap_servers=kafka_bootstrap,
                kafka_topic_prefix=prefix, worker_enabled=False, outbox_poll_seconds=0.02, environment="test",
                **overrides,
            )  # fmt: skip
            clock = clock or ManualClock(START)
            app = create_app(settings, clock=clock)
            client = await stack.enter_async_context(serving(app))
            return RunningSupport(app.state.service, app, client, clock, settings)

        yield start


@pytest.fixture(scope="module")
async def support(start_support: StartSupport) -> RunningSupport:
    return await start_support()
