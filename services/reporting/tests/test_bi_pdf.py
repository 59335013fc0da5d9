"""BI PDF outputs (WeasyPrint from the HTML output), read back with pdftotext: every report renders, each page has
the header (tenant, report, parameters) and the footer (generated at, page n of m); aging has its chart."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from reporting.bi.domain.model import SOURCES, ReportType, template_roles

from .bi_support import BiHarness
from .reporting_support import new_tenant
from .test_aging import AS_OF, seed_receivables


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page (pdftotext, poppler-utils)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.pdf"
        path.write_bytes(content)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
    return text.split("\f")[:-1]


def report_type_for(report: str) -> ReportType:
    return next(t for t in ReportType if template_roles(t, report))


async def run_pdf(bi: BiHarness, tenant: str, report: str, name: str, **parameters: object) -> bytes:
    template = await bi.template(
        tenant, "admin", name=name, report=report, report_type=report_type_for(report).value, output_formats=["pdf"]
    )
    asked = await bi.request_run(tenant, template["template_id"], "admin", **parameters)
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, asked["execution_id"], "admin")
    assert done["status"] == "completed", done["error"]
    assert [o["media_type"] for o in done["outputs"]] == ["application/pdf"]
    response = await bi.download(tenant, asked["execution_id"], "pdf", "admin")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    return response.content


@pytest.mark.parametrize("report", sorted(SOURCES))
async def test_every_report_renders_a_pdf_with_header_and_page_numbers(bi: BiHarness, report: str) -> None:
    tenant = new_tenant()
    pages = pdf_pages(await run_pdf(bi, tenant, report, f"PDF of {report}"))
    assert pages
    for n, page in enumerate(pages, start=1):
        assert tenant in page and f"({report})" in page
        assert f"Page {n} of {len(pages)}" in page
        assert re.search(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC", page)
    assert f"PDF of {report}" in pages[0]


async def test_aging_pdf_has_its_rows_and_its_chart(bi: BiHarness) -> None:
    tenant = new_tenant()
    await seed_receivables(bi, tenant)
    pages = pdf_pages(await run_pdf(bi, tenant, "aging/by-partner", "Aging month end", as_of=AS_OF.isoformat()))
    text = "\n".join(pages)
    assert f"parameters: as_of={AS_OF.isoformat()}" in pages[0]
    assert "Aging by bucket" in text  # the chart, with its amounts in major units per currency
    assert "230.45 EUR" in text  # 1_30_days of EUR: 22,345 minor units (p1) + 700 (p2)
    assert "125.00 EUR" in text  # current of EUR: 10,000 + 2,500
    assert "1.234 KWD" in text  # three decimals
    assert "999.99 USD" in text
    assert "p1" in text and "p2" in text  # the rows
    for n, page in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in page
