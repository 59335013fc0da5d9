"""One customers service per test module (fresh database, own topics); tests keep apart by tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from customers.config import Settings
from customers.entrypoints.app import create_app

from .support import Running, new_tenant, serving


@pytest.fixture(scope="module")
async def service(fresh_database: Any, kafka_bootstrap: str, topic_prefix: str, request: Any) -> AsyncIterator[Running]:
    prefix = f"{topic_prefix}{request.module.__name__.rpartition('.')[2][:24]}."
    settings = Settings(
        database_url=await fresh_database("customers"),
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=prefix,
        outbox_poll_seconds=0.02,
    )
    app = create_app(settings)
    async with serving(app) as client:
        yield Running(app, client, settings)


@pytest.fixture
def tenant() -> str:
    return new_tenant()
