"""Schemathesis over every service's whole OpenAPI document, through the gateway of a running system (as `make up`
runs it, on a stack of its own), as a fresh tenant's admin: no server error, every documented answer as documented.

The documents are the ones the gateway publishes (`/docs/<service>/openapi.json`), so the requests take the public
path: nginx, then the service, its database and its broker. A new route is covered without anyone listing it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from bss_runtime.auth import JwtConfig, issue_token
from bss_runtime.settings import ServiceSettings
from bss_testkit.openapi_fuzz import SECONDS, fuzz
from bss_testkit.system import SERVICES, Stack, local_stack

pytestmark = pytest.mark.timeout(SECONDS + 240)  # the run, and the stack's start for the first service


@pytest.fixture(scope="module")
async def stack() -> AsyncIterator[Stack]:
    async with local_stack() as running:
        yield running


@pytest.mark.parametrize("service", SERVICES)
async def test_fuzzed_requests_get_no_server_error_and_documented_answers(stack: Stack, service: str) -> None:
    jwt = JwtConfig(ServiceSettings().jwt_secret)
    token = issue_token(jwt, subject="fuzzer", tenant_id=f"isp-{uuid.uuid4().hex[:8]}", roles=["admin"])
    result = await fuzz(f"{stack.gateway}/docs/{service}/openapi.json", {"Authorization": f"Bearer {token}"})
    assert result.exit_code == 0, result.output[-10_000:]
