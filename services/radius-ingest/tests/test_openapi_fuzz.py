"""Schemathesis over the whole OpenAPI document of the running service process: no server error, every
documented answer as documented."""

from __future__ import annotations

import uuid

import pytest

from bss_testkit.openapi_fuzz import SECONDS, fuzz

from .support import Service

pytestmark = pytest.mark.timeout(SECONDS + 150)  # the run, and the service's start and stop


async def test_fuzzed_requests_get_no_server_error_and_documented_answers(service: Service) -> None:
    token = service.token(f"isp-{uuid.uuid4().hex[:8]}", "admin")
    result = await fuzz(f"http://127.0.0.1:{service.http_port}", token)
    assert result.exit_code == 0, result.output[-10_000:]
