"""Helpers for the BI tests: a reporting service whose BI clock the test moves, a real SMTP server and a real
webhook receiver (bss_testkit's, re-exported), and readers of the output formats."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx

from bss_runtime.clock import ManualClock
from bss_testkit.receivers import SmtpServer as SmtpServer  # re-exported: the BI tests import both from here
from bss_testkit.receivers import WebhookReceiver as WebhookReceiver
from reporting.bi.entrypoints.worker import BiWorker
from reporting.config import Settings
from reporting.entrypoints.app import Reporting, create_app

from .reporting_support import Harness

BI = "/business-intelligence"


@dataclass
class BiHarness(Harness):
    clock: ManualClock = field(default_factory=lambda: ManualClock(datetime.now(UTC)))

    @property
    def worker(self) -> BiWorker:
        return self.service.bi_worker

    async def call(self, method: str, path: str, tenant: str, *roles: str, subject: str = "tester",
                   **kwargs: Any) -> httpx.Response:  # fmt: skip
        from bss_runtime.auth import issue_token

        token = issue_token(self.service.runtime.jwt, subject=subject, tenant_id=tenant, roles=roles or ("admin",))
        return await self.client.request(method, BI + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)

    async def req(self, method: str, path: str, tenant: str, *roles: str, status: int = 200, **kwargs: Any) -> Any:
        response = await self.call(method, path, tenant, *roles, **kwargs)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    async def template(self, tenant: str, *roles: str, subject: str = "tester", **fields: Any) -> dict[str, Any]:
        body = {"name": "Aging by region", "report_type": "collections", "report": "aging/by-region",
                "output_formats": ["csv", "json"]} | fields  # fmt: skip
        result: dict[str, Any] = await self.req(
            "POST", "/report-templates", tenant, *roles, status=201, json=body, subject=subject
        )
        return result

    async def request_run(
        self, tenant: str, template_id: str, *roles: str, subject: str = "tester", **parameters: Any
    ) -> dict[str, Any]:
        body = {"template_id": template_id, "parameters": parameters}
        result: dict[str, Any] = await self.req(
            "POST", "/report-executions", tenant, *roles, status=202, json=body, subject=subject
        )
        return result

    async def execution(self, tenant: str, execution_id: str, *roles: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.req("GET", f"/report-executions/{execution_id}", tenant, *roles)
        return result

    async def download(self, tenant: str, execution_id: str, fmt: str, *roles: str) -> httpx.Response:
        return await self.call("GET", f"/report-executions/{execution_id}/outputs/{fmt}", tenant, *roles)


@asynccontextmanager
async def running_bi(database_url: str, bootstrap: str, prefix: str, **overrides: Any) -> AsyncIterator[BiHarness]:
    """The whole service in-process, its BI worker not looping: tests move the clock and run the worker's steps."""
    settings = Settings(
        database_url=database_url, kafka_bootstrap_servers=bootstrap, kafka_topic_prefix=prefix,
        bi_worker_enabled=False, bi_retry_backoff_seconds=60, **overrides,
    )  # fmt: skip
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    app = create_app(settings, bi_clock=clock)
    service: Reporting = app.state.service
    transport = httpx.ASGITransport(app=app)
    async with service.runtime.running(), httpx.AsyncClient(transport=transport, base_url="http://reporting") as client:
        yield BiHarness(service, client, settings, clock=clock)


# ---------------------------------------------------------------- reading outputs


def flatten(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out |= {f"{key}_{k}": v for k, v in flatten(value).items()}
        else:
            out[key] = value
    return out


_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def read_xlsx(content: bytes) -> list[list[Any]]:
    """The first sheet's cells: shared or inline strings, numbers, booleans; None where empty."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    shared = []
    if "xl/sharedStrings.xml" in archive.namelist():
        root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{{{_NS['m']}}}t")) for si in root.findall("m:si", _NS)]
    sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows: list[list[Any]] = []
    for row in sheet.iter(f"{{{_NS['m']}}}row"):
        cells: dict[int, Any] = {}
        for cell in row.findall("m:c", _NS):
            letters = re.match(r"[A-Z]+", cell.get("r", "")).group(0)  # type: ignore[union-attr]
            col = 0
            for ch in letters:
                col = col * 26 + ord(ch) - 64
            kind, value = cell.get("t"), cell.find("m:v", _NS)
            if kind == "s" and value is not None:
                cells[col - 1] = shared[int(value.text or 0)]
            elif kind == "inlineStr":
                cells[col - 1] = "".join(t.text or "" for t in cell.iter(f"{{{_NS['m']}}}t"))
            elif kind == "b" and value is not None:
                cells[col - 1] = value.text == "1"
            elif value is not None:
                cells[col - 1] = float(value.text or 0)
        width = max(cells, default=-1) + 1
        rows.append([cells.get(i) for i in range(width)])
    return rows


def excel_date(serial: float) -> datetime:
    return datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=serial)
