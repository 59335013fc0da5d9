"""Inputs past what the columns (or date arithmetic) hold answer 422 naming the field, never 500 (issue 11's
fuzzing findings), on the reports and the BI API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .bi_support import BiHarness
from .reporting_support import Harness

BEYOND_INT64 = "9223372036854775808"


def _refused(response: httpx.Response, *loc: str | int) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    assert detail[0]["loc"] == list(loc), detail
    return detail[0]


def _tenant() -> str:
    return f"isp-{uuid.uuid4().hex[:8]}"


async def test_report_parameters_out_of_range_are_refused(reporting: Harness) -> None:
    tenant = _tenant()
    for path in ("sla-breaches", "sessions/history"):
        _refused(await reporting.get(path, tenant, offset=BEYOND_INT64), "query", "offset")
    _refused(await reporting.get("aging/by-partner", tenant, as_of="0001-01-01"), "query", "as_of")
    _refused(await reporting.get("aging/by-region", tenant, as_of="9999-12-31"), "query", "as_of")
    _refused(await reporting.get("sessions/history", tenant, end_date="9999-12-31"), "query", "end_date")
    received = "0001-01-01T00:00:00+14:00"
    _refused(await reporting.get("sessions/history", tenant, start_date=received), "query", "start_date")
    _refused(await reporting.get("sla-breaches", tenant, min_credit_amount="1e20"), "query", "min_credit_amount")
    _refused(await reporting.get("blocked-customers", tenant, min_days_blocked=10**9), "query", "min_days_blocked")
    _refused(await reporting.get("sessions/history", tenant, username="a\u0000"), "query", "username")

    assert (await reporting.ok("sla-breaches", tenant, min_credit_amount="1000000"))["breaches"] == []
    assert (await reporting.ok("aging/by-region", tenant, as_of="2200-12-31")) == []


async def test_bi_inputs_out_of_range_are_refused(bi: BiHarness) -> None:
    tenant = _tenant()
    _refused(await bi.call("GET", "/report-executions", tenant, params={"offset": BEYOND_INT64}), "query", "offset")
    _refused(await bi.call("GET", "/access-log", tenant, params={"offset": BEYOND_INT64}), "query", "offset")
    usage = await bi.call("GET", "/analytics/usage", tenant, params={"end_date": "9999-12-31"})
    _refused(usage, "query", "end_date")

    nested: dict[str, Any] = {"type": "object"}
    for _ in range(300):
        nested = {"not": nested}
    body = {"name": "Deep", "report_type": "collections", "report": "aging/by-region", "output_formats": ["csv"],
            "parameters_schema": nested}  # fmt: skip
    _refused(await bi.call("POST", "/report-templates", tenant, json=body), "body", "parameters_schema")
    nul = body | {"parameters_schema": {"type": "object"}, "name": "N\u0000"}
    _refused(await bi.call("POST", "/report-templates", tenant, json=nul), "body", "name")
    run = {"template_id": "t\u0000", "parameters": {}}
    _refused(await bi.call("POST", "/report-executions", tenant, json=run), "body", "template_id")

    # Templates are listed a page at a time.
    for name in ("One", "Two", "Three"):
        await bi.template(tenant, name=name)
    first = await bi.req("GET", "/report-templates", tenant, params={"limit": 2})
    rest = await bi.req("GET", "/report-templates", tenant, params={"limit": 2, "offset": 2})
    assert sorted(t["name"] for t in first + rest) == ["One", "Three", "Two"]
    _refused(await bi.call("GET", "/report-schedules", tenant, params={"offset": BEYOND_INT64}), "query", "offset")
