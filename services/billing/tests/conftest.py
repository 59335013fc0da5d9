"""Fixtures of the billing tests: the service on a fresh database and its own topics, time on a ManualClock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from billing.config import Settings
from billing.entrypoints.app import create_app
from bss_runtime.clock import ManualClock

from .support import START, RunningBilling, serving, unique

StartBilling = Callable[..., Awaitable[RunningBilling]]


@pytest.fixture
def prefix(topic_prefix: str, request: pytest.FixtureRequest) -> str:
    """Topics of this test only (the service creates them when it starts)."""
    return f"{topic_prefix}{request.node.name[:24]}."


@pytest.fixture(scope="module")
async def shared_billing(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str, request: pytest.FixtureRequest
) -> AsyncIterator[RunningBilling]:
    """One running service for a whole test module (starting one takes seconds); tests use their own tenant."""
    prefix = f"{topic_prefix}{request.module.__name__.rpartition('.')[2][:24]}."
    settings = Settings(
        database_url=await fresh_database("billing"), kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix, workers_enabled=False, outbox_poll_seconds=0.02, usage_close_grace_hours=0,
        db_pool_size=5,
    )  # fmt: skip
    clock = ManualClock(START)
    app = create_app(settings, clock=clock)
    async with serving(app) as client:
        yield RunningBilling(app.state.service, app, client, clock, settings, kafka_bootstrap, prefix)


@pytest.fixture
def billing(shared_billing: RunningBilling) -> RunningBilling:
    """The module's service, seen as a tenant of its own, at the start of time."""
    shared_billing.clock.set(START)
    return shared_billing.for_tenant(unique("isp"))


@pytest.fixture
async def start_billing(fresh_database: Any, kafka_bootstrap: str, prefix: str) -> AsyncIterator[StartBilling]:
    """`await start_billing()`: the whole service (HTTP, consumers, relay, schedulers) in-process.

    Time is a ManualClock that tests move; the schedulers' passes are run by the tests (or, with
    `workers=True`, by the background loops as in production). `database_url=` and `clock=` let two
    instances share a database and a clock, like two replicas.
    """
    async with AsyncExitStack() as stack:

        async def start(*, workers: bool = False, clock: ManualClock | None = None, database_url: str | None = None,
                        **overrides: Any) -> RunningBilling:  # fmt: skip
            settings = Settings(
                database_url=database_url or await fresh_database("billing"), kafka_bootstrap_servers=kafka_bootstrap,
                kafka_topic_prefix=prefix, workers_enabled=workers, worker_poll_seconds=0.02,
                outbox_poll_seconds=0.02, usage_close_grace_hours=0, db_pool_size=5, **overrides,
            )  # fmt: skip
            clock = clock or ManualClock(START)
            app = create_app(settings, clock=clock)
            client = await stack.enter_async_context(serving(app))
            return RunningBilling(app.state.service, app, client, clock, settings, kafka_bootstrap, prefix)

        yield start
