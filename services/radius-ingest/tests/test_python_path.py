"""The Python reference path end to end (RADIUS_NATIVE=false): what a worker serves when the native extension is
turned off or cannot start, and what the native path is held byte-equal to (test_native.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import NAS_ID, TENANT
from .support import Service, client_entry, running_service
from .test_radclient import (  # the same scenarios, against this module's service
    probe,
    test_retransmission_and_resend_are_answered_without_double_counting,
    test_start_interim_stop_round_trip_with_gigawords,
)

__all__ = [
    "probe",
    "test_retransmission_and_resend_are_answered_without_double_counting",
    "test_start_interim_stop_round_trip_with_gigawords",
]


@pytest.fixture(scope="module")
async def service(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str, tmp_path_factory: Any
) -> AsyncIterator[Service]:
    tmp: Path = tmp_path_factory.mktemp("radius-python")
    async with running_service(
        tmp,
        database_url=await fresh_database("radius_ingest"),
        bootstrap=kafka_bootstrap,
        prefix=f"{topic_prefix}pythonpath.",
        clients_toml=client_entry(TENANT, NAS_ID, "127.0.0.1"),
        RADIUS_NATIVE="false",
    ) as running:
        yield running
        log = running.log.read_bytes()
        assert b'"native": false' in log and b'"native": true' not in log  # the workers served with Python
