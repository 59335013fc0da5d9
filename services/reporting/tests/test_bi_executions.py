"""BI executions: the worker runs the report's own endpoint and writes every format; the outputs equal the API's
answer exactly; failures are recorded, transient ones retried; retention; access log; usage analytics."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
import pytest

from reporting.bi.domain.model import Status
from reporting.bi.service_layer import runs
from reporting.service_layer.rebuild import Rebuild

from .bi_support import BiHarness, excel_date, flatten, read_xlsx
from .reporting_support import new_tenant
from .test_aging import AS_OF, seed_receivables
from .test_services_export import seed_services
from .test_sla_breaches import seed_breaches

AS_OF_SCHEMA = {
    "type": "object",
    "properties": {"as_of": {"type": "string", "format": "date"}},
    "required": ["as_of"],
}
ALL = ["csv", "json", "xlsx", "parquet", "html"]


def as_csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def test_aging_by_region_outputs_equal_the_api_answer(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed_receivables(bi, tenant)
    template = await bi.template(
        tenant, "finance", name="Aging by region, month end", output_formats=ALL, parameters_schema=AS_OF_SCHEMA
    )
    asked = await bi.request_run(tenant, template["template_id"], "collections", as_of=AS_OF.isoformat())
    assert (asked["status"], asked["outputs"], asked["parameters"]) == ("pending", [], {"as_of": "2025-03-31"})

    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "collections")
    assert done["status"] == "completed", done["error"]
    api = await bi.get("aging/by-region", tenant, "collections", as_of=AS_OF.isoformat())
    rows = api.json()
    assert len(rows) == 5 and done["row_count"] == 5  # AT EUR, DE EUR, DE KWD, FR EUR, US USD
    flat = [flatten(r) for r in rows]
    columns = list(flat[0])

    outputs = {o["format"]: o for o in done["outputs"]}
    assert sorted(outputs) == sorted(ALL)
    stamp = datetime.fromisoformat(done["requested_at"]).astimezone(UTC).strftime("%Y%m%d_%H%M%S")
    files: dict[str, bytes] = {}
    for fmt, output in outputs.items():
        response = await bi.download(tenant, asked["execution_id"], fmt, "collections")
        assert response.status_code == 200, response.text
        name = f"aging_by_region_month_end_{stamp}.{fmt}"
        assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert output["size_bytes"] == len(response.content)
        assert output["sha256"] == hashlib.sha256(response.content).hexdigest()
        files[fmt] = response.content

    assert files["json"] == api.content  # the API's very bytes
    reader = list(csv.reader(io.StringIO(files["csv"].decode())))
    assert reader[0] == columns
    assert reader[1:] == [[as_csv_text(r[c]) for c in columns] for r in flat]
    assert pq.read_table(io.BytesIO(files["parquet"])).to_pylist() == flat
    cells = read_xlsx(files["xlsx"])
    assert cells[0] == columns
    assert cells[1:] == [[None if r[c] is None else r[c] for c in columns] for r in flat]
    page = files["html"].decode()
    assert page.count("<tr>") == 1 + len(rows) and "<td>KWD</td><td>1</td><td>1.234</td>" in page


async def test_services_export_outputs_are_the_exports_own_bytes(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed_services(bi, tenant)
    template = await bi.template(
        tenant, "ops", name="Services", report_type="operations", report="services/export", output_formats=ALL,
        parameters_schema={"type": "object", "properties": {"include_suspended": {"type": "boolean"}}},
        default_parameters={"include_suspended": True},
    )  # fmt: skip
    asked = await bi.request_run(tenant, template["template_id"], "ops")
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "ops")
    assert done["status"] == "completed", done["error"]
    for fmt in ("csv", "json", "parquet"):
        api = await bi.get("services/export", tenant, "ops", format=fmt, include_suspended="true")
        output = await bi.download(tenant, asked["execution_id"], fmt, "ops")
        assert output.content == api.content, fmt
    xlsx = await bi.download(tenant, asked["execution_id"], "xlsx", "ops")
    api_cells = read_xlsx(
        (await bi.get("services/export", tenant, "ops", format="xlsx", include_suspended="true")).content
    )
    assert read_xlsx(xlsx.content) == api_cells
    rows = (await bi.get("services/export", tenant, "ops", format="json", include_suspended="true")).json()
    page = (await bi.download(tenant, asked["execution_id"], "html", "ops")).content.decode()
    assert len(rows) == 4 and page.count("<tr>") == 1 + len(rows)
    assert "Bob, &quot;the builder&quot;" in page


async def test_a_refused_report_fails_at_once_and_a_transient_error_is_retried(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(
        tenant, "finance", name="Blocked", report_type="collections", report="blocked-customers",
        output_formats=["csv"],
        parameters_schema={"type": "object", "properties": {"min_days_blocked": {"type": "integer"},
                                                            "max_days_blocked": {"type": "integer"}}},
    )  # fmt: skip
    # The endpoint itself refuses max < min: the execution fails with its answer, and is not tried again.
    refused = await bi.request_run(
        tenant, template["template_id"], "collections", min_days_blocked=5, max_days_blocked=2
    )
    await bi.worker.run_pending_executions()
    failed = await bi.execution(tenant, refused["execution_id"], "collections")
    assert (failed["status"], failed["attempts"], failed["outputs"]) == ("failed", 1, [])
    assert "HTTP 422" in failed["error"] and "max_days_blocked" in failed["error"]

    # A transient error (here: the report endpoints answer 503 once) is retried after the backoff.
    calls = 0
    real_app = bi.service.bi.reports_app

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b'{"detail":"database restarting"}'})
            return
        await real_app(scope, receive, send)

    deps = replace(bi.service.bi, reports_app=flaky)
    asked = await bi.request_run(tenant, template["template_id"], "collections")
    assert await runs.run_next_execution(deps)
    waiting = await bi.execution(tenant, asked["execution_id"], "collections")
    assert (waiting["status"], waiting["attempts"]) == ("pending", 1)
    assert waiting["error"] == "RuntimeError: the report answered HTTP 503: database restarting"
    assert not await runs.run_next_execution(deps)  # not before the backoff (60 s)
    bi.clock.advance(timedelta(seconds=61))
    assert await runs.run_next_execution(deps)
    done = await bi.execution(tenant, asked["execution_id"], "collections")
    assert (done["status"], done["attempts"], done["error"], done["row_count"]) == ("completed", 2, None, 0)
    csv_out = await bi.download(tenant, asked["execution_id"], "csv", "collections")
    assert csv_out.content == b"\r\n"  # no rows: an empty header line (the columns come from the rows)


async def test_access_log_retention_and_usage_analytics(bi: BiHarness) -> None:
    tenant = new_tenant()
    day = bi.clock.now().date()
    template = await bi.template(tenant, "finance", name="Aging", output_formats=["json", "csv"], is_public=True)
    other = await bi.template(
        tenant, "finance", name="Bad", report_type="collections", report="blocked-customers", output_formats=["csv"],
        default_parameters={}, parameters_schema={"type": "object", "properties": {
            "min_days_blocked": {"type": "integer"}, "max_days_blocked": {"type": "integer"}}},
    )  # fmt: skip
    first = await bi.request_run(tenant, template["template_id"], "finance", subject="alice")
    second = await bi.request_run(tenant, template["template_id"], "finance")
    bad = await bi.request_run(tenant, other["template_id"], "finance", min_days_blocked=3, max_days_blocked=1)
    await bi.worker.run_pending_executions()
    for execution_id in (first["execution_id"], first["execution_id"], second["execution_id"]):
        assert (await bi.download(tenant, execution_id, "json", "finance")).status_code == 200
    assert (await bi.download(tenant, bad["execution_id"], "csv", "finance")).status_code == 404  # no output

    usage = await bi.req("GET", "/analytics/usage", tenant, "admin", params={"start_date": day.isoformat()})
    assert (usage["executions"], usage["completed"], usage["failed"], usage["downloads"]) == (3, 2, 1, 3)
    by_template = {u["template_name"]: u for u in usage["by_template"]}
    assert {k: (v["executions"], v["completed"], v["failed"], v["downloads"]) for k, v in by_template.items()} == {
        "Aging": (2, 2, 0, 3),
        "Bad": (1, 0, 1, 0),
    }
    assert by_template["Aging"]["average_duration_seconds"] == 0.0  # the test's clock stood still while they ran
    assert usage["by_day"] == [{"date": day.isoformat(), "executions": 3, "completed": 2, "failed": 1}]
    assert (await bi.call("GET", "/analytics/usage", tenant, "finance")).status_code == 403
    before = await bi.req("GET", "/analytics/usage", tenant, params={"end_date": (day - timedelta(days=1)).isoformat()})
    assert (before["executions"], before["downloads"], before["by_template"]) == (0, 0, [])
    wrong = await bi.call(
        "GET", "/analytics/usage", tenant, params={"start_date": "2025-02-01", "end_date": "2025-01-01"}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["query", "end_date"]

    log = await bi.req("GET", "/access-log", tenant, params={"start_date": day.isoformat()})
    actions = sorted((e["action"], e["subject"], e["format"]) for e in log)
    assert actions == sorted(
        [("template.created", "tester", None)] * 2
        + [("execution.requested", "alice", None)]
        + [("execution.requested", "tester", None)] * 2
        + [("output.downloaded", "tester", "json")] * 3
    )

    # Retention: 30 days after they finished, the outputs' content is gone (410), their record stays.
    bi.clock.advance(timedelta(days=30, seconds=-5))
    await bi.worker.clean_expired_outputs()
    assert (await bi.download(tenant, first["execution_id"], "json", "finance")).status_code == 200
    bi.clock.advance(timedelta(seconds=10))
    assert await bi.worker.clean_expired_outputs() >= 4
    gone = await bi.download(tenant, first["execution_id"], "json", "finance")
    assert gone.status_code == 410
    listed = (await bi.execution(tenant, first["execution_id"], "finance"))["outputs"]
    assert [(o["format"], o["expired"]) for o in listed] == [("csv", True), ("json", True)]
    chunks = await bi.scalar("SELECT count(*) FROM bi.report_output_chunks WHERE tenant_id = :t", t=tenant)
    assert chunks == 0


async def test_a_paged_report_is_fetched_page_after_page(bi: BiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = new_tenant()
    await seed_breaches(bi, tenant)
    monkeypatch.setattr(runs, "PAGE", 2)  # four breaches: pages of 2, 2 and none
    template = await bi.template(
        tenant, "ops", name="SLA", report_type="operations", report="sla-breaches",
        output_formats=["json", "csv", "parquet", "xlsx"],
    )  # fmt: skip
    asked = await bi.request_run(tenant, template["template_id"], "ops")
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "ops")
    assert done["status"] == "completed", done["error"]
    api = await bi.ok("sla-breaches", tenant, "ops", limit=1000)
    assert done["row_count"] == len(api["breaches"]) == 4
    output = json.loads((await bi.download(tenant, asked["execution_id"], "json", "ops")).content)
    assert output == {"summary": api["summary"], "breaches": api["breaches"]}
    table = list(csv.DictReader(io.StringIO((await bi.download(tenant, asked["execution_id"], "csv", "ops")).text)))
    assert table == [{k: as_csv_text(v) for k, v in flatten(b).items()} for b in api["breaches"]]
    # The report's date-times are typed: timestamp[us, UTC] in Parquet, Excel date-times (UTC) in xlsx.
    detected = [datetime.fromisoformat(b["detected_at"]) for b in api["breaches"]]
    parquet = pq.read_table(io.BytesIO((await bi.download(tenant, asked["execution_id"], "parquet", "ops")).content))
    assert str(parquet.schema.field("detected_at").type) == "timestamp[us, tz=UTC]"
    assert parquet.column("detected_at").to_pylist() == detected
    assert parquet.column("credit_amount_minor").to_pylist() == [b["credit_amount_minor"] for b in api["breaches"]]
    cells = read_xlsx((await bi.download(tenant, asked["execution_id"], "xlsx", "ops")).content)
    column = cells[0].index("detected_at (UTC)")
    assert all(
        abs(excel_date(row[column]) - when) < timedelta(milliseconds=1)
        for row, when in zip(cells[1:], detected, strict=True)
    )


async def test_the_read_model_rebuild_leaves_the_bi_tables_alone(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", name="Before the rebuild", output_formats=["csv"])
    asked = await bi.request_run(tenant, template["template_id"], "finance")
    await bi.worker.run_pending_executions()
    csv_before = (await bi.download(tenant, asked["execution_id"], "csv", "finance")).content
    before = await bi_rows(bi)
    assert all(before[t] for t in ("report_templates", "report_executions", "report_output_chunks", "access_log"))

    report = await Rebuild(bi.settings).run()

    assert report.swapped and report.failed == 0
    assert await bi_rows(bi) == before
    assert (await bi.download(tenant, asked["execution_id"], "csv", "finance")).content == csv_before


async def bi_rows(bi: BiHarness) -> dict[str, list[tuple[Any, ...]]]:
    tables = ["report_templates", "report_schedules", "report_executions", "report_outputs", "report_output_chunks",
              "report_deliveries", "access_log"]  # fmt: skip
    return {t: [tuple(r) for r in await bi.rows(f"SELECT * FROM bi.{t} ORDER BY 1, 2, 3")] for t in tables}


async def test_an_execution_whose_worker_died_is_taken_over_after_its_lease(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(tenant, "finance", name="Lease", output_formats=["csv"])
    asked = await bi.request_run(tenant, template["template_id"], "finance")
    deps = bi.service.bi
    dead = await runs.claim_execution(deps)  # a worker claims it, then dies without a word
    assert dead is not None and dead.execution.execution_id == asked["execution_id"]
    assert (await bi.execution(tenant, asked["execution_id"], "finance"))["status"] == "running"

    await bi.worker.run_pending_executions()  # its lease holds: nobody else takes it
    assert (await bi.execution(tenant, asked["execution_id"], "finance"))["status"] == "running"
    bi.clock.advance(timedelta(seconds=bi.settings.bi_execution_lease_seconds + 1))
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "finance")
    assert (done["status"], done["attempts"]) == ("completed", 2)

    # The first worker comes back to life: what it reports is discarded.
    await runs.finish_execution(deps, dead, Status.FAILED, error="late")
    assert (await bi.execution(tenant, asked["execution_id"], "finance"))["status"] == "completed"
