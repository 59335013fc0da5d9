"""Schemathesis over the whole OpenAPI document: no server error, every documented answer as documented."""

from __future__ import annotations

from typing import Any

import pytest

from billing.config import Settings
from billing.entrypoints.app import create_app
from bss_runtime.auth import JwtConfig, issue_token
from bss_testkit.openapi_fuzz import SECONDS, fuzz, serve

from .support import unique

pytestmark = pytest.mark.timeout(SECONDS + 150)  # the run, and the service's start and stop


async def test_fuzzed_requests_get_no_server_error_and_documented_answers(
    fresh_database: Any, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = Settings(
        database_url=await fresh_database("billing"), kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=f"{topic_prefix}fuzz.", workers_enabled=False,
    )  # fmt: skip
    jwt = JwtConfig(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience)
    token = issue_token(jwt, subject="fuzzer", tenant_id=unique("isp"), roles=["admin"])
    async with serve(create_app(settings)) as url:
        result = await fuzz(url, {"Authorization": f"Bearer {token}"})
    assert result.exit_code == 0, result.output[-10_000:]
