"""Fixtures of the reporting tests: the service in-process on a fresh database and its own topics.

Endpoint tests share one running service (`reporting`) and keep apart by using a tenant of their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from .bi_support import BiHarness, running_bi
from .reporting_support import Harness, running_reporting

StartReporting = Callable[..., Awaitable[Harness]]


@pytest.fixture(scope="session")
async def reporting(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[Harness]:
    async with running_reporting(
        await fresh_database("reporting"),
        kafka_bootstrap,
        f"{topic_prefix}rep.",
        export_chunk_rows=100,
        parquet_row_group_rows=100,
    ) as harness:
        yield harness


@pytest.fixture(scope="session")
async def bi(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[BiHarness]:
    """The BI tests' service: its BI clock is a ManualClock and its BI worker runs only when a test drives it."""
    async with running_bi(await fresh_database("reporting_bi"), kafka_bootstrap, f"{topic_prefix}bi.") as harness:
        yield harness
