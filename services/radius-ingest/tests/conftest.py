"""One radius-ingest process per test module (fresh database, own topics), driven by radclient."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .support import Service, client_entry, running_service

TENANT = "acme"
NAS_ID = "bras-lo"


@pytest.fixture(scope="module")
async def service(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str, request: Any, tmp_path_factory: Any
) -> AsyncIterator[Service]:
    prefix = f"{topic_prefix}{request.module.__name__.rpartition('.')[2][:20]}."
    tmp: Path = tmp_path_factory.mktemp("radius")
    async with running_service(
        tmp,
        database_url=await fresh_database("radius_ingest"),
        bootstrap=kafka_bootstrap,
        prefix=prefix,
        clients_toml=client_entry(TENANT, NAS_ID, "127.0.0.1"),
    ) as running:
        yield running
