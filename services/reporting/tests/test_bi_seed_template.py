"""Seed 002's own template example, accepted as written: no `report` (the financial type's own report is taken),
`data_source_ids` accepted and not used, `pdf` among the formats, and its `month` + `year` parameters mapped
onto the report's `month` (YYYY-MM)."""

from __future__ import annotations

from .bi_support import BiHarness
from .reporting_support import new_tenant
from .test_bi_pdf import pdf_pages

SEED_TEMPLATE = {
    "name": "Monthly Billing Summary",
    "description": "Summary of billing data for the month",
    "report_type": "financial",
    "output_formats": ["pdf", "csv"],
    "parameters_schema": {
        "type": "object",
        "properties": {"month": {"type": "string", "format": "month"}, "year": {"type": "integer", "minimum": 2000}},
        "required": ["month", "year"],
    },
    "data_source_ids": [1, 2],
    "is_public": False,
}


async def test_seed_002_template_example_as_written(bi: BiHarness) -> None:
    tenant = new_tenant()
    created = await bi.req("POST", "/report-templates", tenant, "finance", status=201, json=SEED_TEMPLATE)
    assert (created["report"], created["output_formats"]) == ("analytics/revenue/kpis", ["pdf", "csv"])

    asked = await bi.request_run(tenant, created["template_id"], "finance", month="03", year=2025)
    future = await bi.request_run(tenant, created["template_id"], "finance", month="12", year=2099)
    await bi.worker.run_pending_executions()

    done = await bi.execution(tenant, asked["execution_id"], "finance")
    assert done["status"] == "completed", done["error"]
    assert sorted(o["format"] for o in done["outputs"]) == ["csv", "pdf"]
    pages = pdf_pages((await bi.download(tenant, asked["execution_id"], "pdf", "finance")).content)
    assert "parameters: month=03, year=2025" in pages[0] and "Page 1 of" in pages[0]
    # month + year reach the report as one month: 2099-12 is refused by the report as a future month.
    refused = await bi.execution(tenant, future["execution_id"], "finance")
    assert refused["status"] == "failed" and "future" in refused["error"], refused["error"]

    missing_year = await bi.call(
        "POST", "/report-executions", tenant, "finance",
        json={"template_id": created["template_id"], "parameters": {"month": "03"}},
    )  # fmt: skip
    assert missing_year.status_code == 422
    assert missing_year.json()["detail"][0]["loc"][-2:] == ["parameters", "year"]
