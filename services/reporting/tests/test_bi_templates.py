"""BI report templates: validation (JSON Schema, parameters, report and type), who may do what, and that
another tenant sees none of it."""

from __future__ import annotations

from typing import Any, get_args

from bss_runtime.auth import Role
from reporting.analytics.entrypoints import api as analytics_api
from reporting.analytics.entrypoints import network as network_api
from reporting.analytics.entrypoints import usage as usage_api
from reporting.bi.domain import model as bi
from reporting.bi.entrypoints import schemas
from reporting.entrypoints import api, billing_summary
from reporting.tickets.entrypoints import api as support_api

from .bi_support import BiHarness
from .reporting_support import new_tenant

SCHEMA = {
    "type": "object",
    "properties": {"min_days_blocked": {"type": "integer", "minimum": 0}, "include_zero_balance": {"type": "boolean"}},
    "required": ["min_days_blocked"],
}
BLOCKED: dict[str, Any] = {"name": "Blocked 30+", "report_type": "collections", "report": "blocked-customers",
           "output_formats": ["csv"], "parameters_schema": SCHEMA}  # fmt: skip


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [d["loc"] for d in response.json()["detail"]]


async def test_an_invalid_json_schema_or_template_is_422_naming_the_field(bi: BiHarness) -> None:
    tenant = new_tenant()

    async def create(**fields: Any) -> Any:
        return await bi.call("POST", "/report-templates", tenant, "finance", json=BLOCKED | fields)

    bad_type = await create(parameters_schema={"type": "object", "properties": {"min_days_blocked": {"type": "int"}}})
    assert locs(bad_type) == [["body", "parameters_schema", "properties", "min_days_blocked", "type"]]
    assert "not a valid JSON Schema" in bad_type.json()["detail"][0]["msg"]
    assert locs(await create(parameters_schema={"type": "object", "required": "min_days_blocked"})) == [
        ["body", "parameters_schema", "required"]
    ]
    assert locs(await create(parameters_schema={"type": "array"})) == [["body", "parameters_schema", "type"]]
    unknown = await create(parameters_schema={"type": "object", "properties": {"mindays": {"type": "integer"}}})
    assert locs(unknown) == [["body", "parameters_schema", "properties", "mindays"]]
    assert locs(await create(default_parameters={"min_days_blocked": -1})) == [
        ["body", "default_parameters", "min_days_blocked"]
    ]
    assert locs(await create(report_type="financial", report="sessions/history")) == [["body", "report"]]
    assert locs(await create(report="weather")) == [["body", "report"]]
    assert locs(await create(output_formats=["csv", "csv"])) == [["body", "output_formats"]]
    assert locs(await create(output_formats=["docx"])) == [["body", "output_formats", 0]]

    created = await create()
    assert created.status_code == 201, created.text
    assert created.json()["allowed_roles"] == ["collections", "finance"]
    assert (await create()).status_code == 409  # the same name twice


async def test_execution_parameters_that_break_the_schema_are_422_naming_the_field(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", **BLOCKED | {"default_parameters": {"include_zero_balance": True}})

    async def execute(**parameters: Any) -> Any:
        body = {"template_id": template["template_id"], "parameters": parameters}
        return await bi.call("POST", "/report-executions", tenant, "collections", json=body)

    assert locs(await execute()) == [["body", "parameters", "min_days_blocked"]]  # required
    assert locs(await execute(min_days_blocked="ten")) == [["body", "parameters", "min_days_blocked"]]
    assert locs(await execute(min_days_blocked=-3, include_zero_balance="yes")) == [
        ["body", "parameters", "include_zero_balance"],
        ["body", "parameters", "min_days_blocked"],
    ]
    ok = await execute(min_days_blocked=30)
    assert ok.status_code == 202, ok.text
    assert ok.json()["parameters"] == {"min_days_blocked": 30, "include_zero_balance": True}
    await bi.worker.run_pending_executions()


async def test_roles_decide_who_defines_runs_and_sees_templates(bi: BiHarness) -> None:
    tenant = new_tenant()
    aging: dict[str, Any] = {
        "name": "Aging",
        "report_type": "financial",
        "report": "aging/by-partner",
        "output_formats": ["csv"],
    }
    for roles, code in [(("support",), 403), (("collections",), 403), (("ops",), 403), (("service",), 403)]:
        response = await bi.call("POST", "/report-templates", tenant, *roles, json=aging)
        assert response.status_code == code, (roles, response.text)
    ops_report: dict[str, Any] = {
        "name": "SLA",
        "report_type": "operations",
        "report": "sla-breaches",
        "output_formats": ["json"],
    }
    assert (await bi.call("POST", "/report-templates", tenant, "finance", json=ops_report)).status_code == 403
    sla = await bi.template(tenant, "ops", **ops_report | {"is_public": True})
    private = await bi.template(tenant, "finance", subject="fiona", **aging)

    # Runs: the template's roles (its type's, within the report's own).
    run = {"template_id": sla["template_id"], "parameters": {}}
    assert (await bi.call("POST", "/report-executions", tenant, "finance", json=run)).status_code == 404  # unseen
    assert (await bi.call("POST", "/report-executions", tenant, "ops", json=run)).status_code == 202
    # A private template is its author's (and admin's): another finance user does not see it.
    path = f"/report-templates/{private['template_id']}"
    assert (await bi.call("GET", path, tenant, "finance", subject="fiona")).status_code == 200
    assert (await bi.call("GET", path, tenant, "finance", subject="frank")).status_code == 404
    assert (await bi.call("GET", path, tenant, "admin")).status_code == 200
    listed = await bi.req("GET", "/report-templates", tenant, "finance", subject="frank")
    assert [t["name"] for t in listed] == []
    assert [t["name"] for t in await bi.req("GET", "/report-templates", tenant, "ops")] == ["SLA"]

    # Changes: by its authors; a change is validated like a new template.
    patch = await bi.call("PATCH", path, tenant, "finance", subject="fiona", json={"output_formats": ["xlsx", "csv"]})
    assert patch.status_code == 200 and patch.json()["output_formats"] == ["xlsx", "csv"]
    assert locs(await bi.call("PATCH", path, tenant, "finance", subject="fiona", json={"report": "sessions/history"}))
    assert (await bi.call("DELETE", path, tenant, "finance", subject="fiona")).status_code == 204
    assert (await bi.call("GET", path, tenant, "finance", subject="fiona")).status_code == 404
    await bi.worker.run_pending_executions()


async def test_another_tenant_sees_nothing(bi: BiHarness) -> None:
    tenant, other = new_tenant(), new_tenant()
    template = await bi.template(tenant, "finance", is_public=True)
    execution = await bi.request_run(tenant, template["template_id"], "finance")
    await bi.worker.run_pending_executions()
    schedule = await bi.req("POST", "/report-schedules", tenant, "finance", status=201, json={
        "template_id": template["template_id"], "name": "weekly", "cron": "0 6 * * 1"})  # fmt: skip
    tid, eid, sid = template["template_id"], execution["execution_id"], schedule["schedule_id"]
    for method, path in [
        ("GET", f"/report-templates/{tid}"),
        ("PATCH", f"/report-templates/{tid}"),
        ("DELETE", f"/report-templates/{tid}"),
        ("GET", f"/report-executions/{eid}"),
        ("GET", f"/report-executions/{eid}/outputs"),
        ("GET", f"/report-executions/{eid}/outputs/csv"),
        ("GET", f"/report-schedules/{sid}"),
        ("PATCH", f"/report-schedules/{sid}"),
        ("DELETE", f"/report-schedules/{sid}"),
    ]:
        response = await bi.call(method, path, other, "admin", json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path, response.text)
    run = {"template_id": tid, "parameters": {}}
    assert (await bi.call("POST", "/report-executions", other, "admin", json=run)).status_code == 404
    for path in ("/report-templates", "/report-executions", "/report-schedules"):
        assert await bi.req("GET", path, other, "admin") == []
    usage = await bi.req("GET", "/analytics/usage", other, "admin")
    assert (usage["executions"], usage["downloads"], usage["by_template"]) == (0, 0, [])
    assert await bi.req("GET", "/access-log", other, "admin") == []
    # ... while its own tenant sees them.
    assert [e["execution_id"] for e in await bi.req("GET", "/report-executions", tenant, "finance")] == [eid]
    assert (await bi.call("DELETE", f"/report-templates/{tid}", tenant, "finance")).status_code == 409  # scheduled
    assert (await bi.call("DELETE", f"/report-schedules/{sid}", tenant, "finance")).status_code == 204


def test_the_sources_roles_are_those_the_report_endpoints_enforce() -> None:
    assert set(bi.SOURCES) == set(get_args(schemas.ReportName))
    enforced = {
        "blocked-customers": api.BLOCKED_ROLES, "aging/by-partner": api.AGING_ROLES, "aging/by-region": api.AGING_ROLES,
        "services/export": api.EXPORT_ROLES, "sla-breaches": api.SLA_ROLES, "sessions/history": api.SESSION_ROLES,
        **dict.fromkeys(("analytics/revenue/mrr", "analytics/revenue/movements", "analytics/revenue/kpis"),
                        analytics_api.ROLES),
        "analytics/usage/top": usage_api.ROLES, "billing-summary": billing_summary.ROLES,
        **dict.fromkeys(("analytics/network/concurrency", "analytics/network/online"), network_api.ROLES),
        "analytics/support/sla": support_api.ROLES,
    }  # fmt: skip
    for name, source in bi.SOURCES.items():
        assert source.roles == {Role(r).value for r in enforced[name]}, name
        assert source.path == (f"/{name}" if name.startswith("analytics/") else f"/billing/reports/{name}")
