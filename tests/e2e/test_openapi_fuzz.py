"""Schemathesis over every service's whole OpenAPI document, through the gateway of a running system (as `make up`
runs it; the stack it shares with the console tests, tests/e2e/conftest.py), as a fresh tenant's admin: no server
error, every documented answer as documented.

The documents are the ones the gateway publishes (`/docs/<service>/openapi.json`), so the requests take the public
path: nginx, then the service, its database and its broker. A new route is covered without anyone listing it."""

from __future__ import annotations

import uuid

import pytest

from bss_testkit.openapi_fuzz import SECONDS, fuzz
from bss_testkit.system import SERVICES

from .conftest import System

pytestmark = pytest.mark.timeout(SECONDS + 240)  # the run, and the stack's start for the first service


@pytest.mark.parametrize("service", SERVICES)
async def test_fuzzed_requests_get_no_server_error_and_documented_answers(system: System, service: str) -> None:
    token = system.token(f"isp-{uuid.uuid4().hex[:8]}", ["admin"], subject="fuzzer")
    result = await fuzz(f"{system.stack.gateway}/docs/{service}/openapi.json", {"Authorization": f"Bearer {token}"})
    assert result.exit_code == 0, result.output[-10_000:]
