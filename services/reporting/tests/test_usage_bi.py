"""Usage and network analytics as BI report types; the fixed-width TXT output and the styled xlsx (bold header,
frozen header row, column widths): equal to what the endpoints answer."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from typing import Any

import pytest

from .bi_support import BiHarness, read_xlsx
from .reporting_support import new_tenant
from .test_usage import BIG, D, seed

pytestmark = pytest.mark.timeout(300)
FORMATS = ["csv", "txt", "xlsx"]


async def run(bi: BiHarness, tenant: str, report: str, role: str, **parameters: Any) -> dict[str, bytes]:
    properties = {name: {"type": ["string", "integer"]} for name in parameters}
    template = await bi.template(
        tenant, role, name=f"Usage {report}", report_type="operations", report=report, output_formats=FORMATS,
        parameters_schema={"type": "object", "properties": properties},
    )  # fmt: skip
    asked = await bi.request_run(tenant, template["template_id"], role, **parameters)
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], role)
    assert done["status"] == "completed", done["error"]
    files = {}
    for fmt in FORMATS:
        response = await bi.download(tenant, asked["execution_id"], fmt, role)
        assert response.status_code == 200, response.text
        files[fmt] = response.content
    return files


async def test_top_users_as_csv_fixed_width_text_and_a_styled_sheet(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed(bi, tenant)
    days = {"from": (D - timedelta(days=1)).isoformat(), "to": D.isoformat()}
    api = await bi.client.get("/analytics/usage/top", params=days, headers=bi.headers(tenant, "ops"))
    assert api.status_code == 200, api.text
    files = await run(bi, tenant, "analytics/usage/top", "ops", **days)

    columns = list(api.json()[0])
    table = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    assert [(r["username"], int(r["total_bytes"])) for r in table] == [("u1", BIG + 133), ("u3", 1000), ("u2", 7)]

    lines = files["txt"].decode().split("\n")
    assert lines[0] == "Usage analytics/usage/top" and lines[1] == "=" * len(lines[0])
    header = next(i for i, line in enumerate(lines) if line.startswith("username"))
    assert lines[header].split() == columns and set(lines[header + 1].replace(" ", "")) == {"-"}
    rows = lines[header + 2 : header + 5]
    assert [r.split()[0] for r in rows] == ["u1", "u3", "u2"] and lines[header + 5] == ""
    # numbers are right-aligned: each ends where its header ends
    end = lines[header].index("total_bytes") + len("total_bytes")
    assert [r[:end].split()[-1] for r in rows] == [str(BIG + 133), "1000", "7"]

    cells = read_xlsx(files["xlsx"])
    assert cells[0] == columns and [c[0] for c in cells[1:]] == ["u1", "u3", "u2"]
    sheet = zipfile.ZipFile(io.BytesIO(files["xlsx"])).read("xl/worksheets/sheet1.xml").decode()
    assert 'state="frozen"' in sheet and "<cols>" in sheet  # header row frozen, widths set
    styles = zipfile.ZipFile(io.BytesIO(files["xlsx"])).read("xl/styles.xml").decode()
    assert "<b/>" in styles  # the header's bold font


async def test_peak_concurrency_as_a_report(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed(bi, tenant)
    window = {"from": (D - timedelta(days=2)).isoformat(), "to": (D + timedelta(days=2)).isoformat(), "interval": "day"}
    api = await bi.client.get("/analytics/network/concurrency", params=window, headers=bi.headers(tenant, "ops"))
    assert api.status_code == 200, api.text
    files = await run(bi, tenant, "analytics/network/concurrency", "ops", **window)
    table = list(csv.DictReader(io.StringIO(files["csv"].decode())))
    assert [int(r["peak_sessions"]) for r in table] == [p["peak_sessions"] for p in api.json()["peaks"]]
    assert max(int(r["peak_sessions"]) for r in table) >= 1
