"""Revenue analytics as BI report types: a monthly KPI pack (and MRR movements) as csv, xlsx, json and html
outputs, equal to what the analytics endpoints answer (the scripted year of test_analytics_revenue)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from .bi_support import BiHarness, flatten, read_xlsx
from .reporting_support import new_tenant
from .test_analytics_revenue import EUR, USD, last_day, month, seed_year

pytestmark = pytest.mark.timeout(300)

FORMATS = ["csv", "json", "xlsx", "html"]


def text(value: Any) -> str:
    return "" if value is None else str(value)


async def run(bi: BiHarness, tenant: str, report: str, **parameters: Any) -> dict[str, bytes]:
    properties = {name: {"type": "string"} for name in parameters}
    template = await bi.template(
        tenant, "finance", name=f"Revenue {report}", report_type="financial", report=report, output_formats=FORMATS,
        parameters_schema={"type": "object", "properties": properties},
    )  # fmt: skip
    asked = await bi.request_run(tenant, template["template_id"], "finance", **parameters)
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "finance")
    assert done["status"] == "completed", done["error"]
    files = {}
    for fmt in FORMATS:
        response = await bi.download(tenant, asked["execution_id"], fmt, "finance")
        assert response.status_code == 200, response.text
        files[fmt] = response.content
    return files


async def test_the_monthly_kpi_pack_as_bi_outputs(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed_year(bi, tenant)
    params = {"month": month(5).isoformat()[:7], "reporting_currency": "USD"}
    api = await bi.client.get("/analytics/revenue/kpis", params=params, headers=bi.headers(tenant, "finance"))
    assert api.status_code == 200, api.text
    files = await run(bi, tenant, "analytics/revenue/kpis", **params)

    assert files["json"] == api.content  # the endpoint's very bytes, converted totals included
    rows = [flatten(r) for r in api.json()["currencies"]]
    assert [r["currency"] for r in rows] == ["EUR", "USD"] and rows[0]["ltv_minor"] == 74531
    columns = list(rows[0])
    table = list(csv.reader(io.StringIO(files["csv"].decode())))
    assert table == [columns, *[[text(r[c]) for c in columns] for r in rows]]
    cells = read_xlsx(files["xlsx"])
    assert cells[0] == columns and len(cells) == 3
    assert cells[1][columns.index("arpu_minor")] == 8833 and cells[1][columns.index("logo_churn_rate")] == "0.333333"
    page = files["html"].decode()
    assert page.count("<tr>") == 3 and "<td>74531</td>" in page


async def test_movements_of_the_year_as_bi_outputs(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed_year(bi, tenant)
    year = {"from": month(0).isoformat(), "to": last_day(11).isoformat(), "interval": "month"}
    files = await run(bi, tenant, "analytics/revenue/movements", **year)
    table = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    assert len(table) == 24  # 12 months x 2 currencies
    for i in range(12):
        for currency, expected in (("EUR", EUR[i]), ("USD", USD[i])):
            row = next(r for r in table if r["start"] == month(i).isoformat() and r["currency"] == currency)
            figures = ("starting_mrr_minor", "new_mrr_minor", "expansion_mrr_minor", "contraction_mrr_minor",
                       "churn_mrr_minor", "reactivation_mrr_minor", "ending_mrr_minor")  # fmt: skip
            assert tuple(int(row[f]) for f in figures) == expected[:7], (i, currency)
            assert int(row["customers_churn"]) == expected[7][3]
