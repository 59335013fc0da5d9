"""Helpers for the bulk-operation tests: import files with known bad rows, and following an operation."""

from __future__ import annotations

import csv
import io
from typing import Any

import openpyxl

from bss_testkit.events import eventually

from .support import Running

HEADER = ["name", "email", "service_country", "tags", "partner_id", "static_ip_assigned", "username", "plan_id",
          "line_status", "service_latitude", "service_longitude", "timezone"]  # fmt: skip

# (the bad cell(s), the column the error must name): each way a row can be wrong, in rotation.
BAD_WAYS: list[tuple[dict[str, str], str]] = [
    ({"email": "not-an-email"}, "email"),
    ({"service_country": "XX"}, "service_country"),
    ({"name": ""}, "name"),
    ({"partner_id": "no-such-partner"}, "partner_id"),
    ({"line_status": "sleeping"}, "line_status"),
    ({"service_latitude": "123"}, "service_latitude"),
    ({"static_ip_assigned": "999.1.1.1"}, "static_ip_assigned"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"username": "has space"}, "username"),
    ({"username": "", "plan_id": "plan-x"}, "plan_id"),
    ({"username": "user-0"}, "username"),  # taken by row 2, earlier in the same file
]


def import_file(rows: int, bad: int = 0, *, active: bool = False, prefix: str = "user") -> tuple[bytes, dict[int, str]]:
    """A CSV of `rows` customers each with a line; `bad` of them wrong (spread out); -> (file, {row: column})."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    step = rows // bad if bad else 0
    expected: dict[int, str] = {}
    for i in range(rows):
        cells = {
            "name": f"Customer {i}", "email": f"c{i}@example.org", "service_country": "fr", "tags": "imported;fiber",
            "partner_id": "", "static_ip_assigned": "", "username": f"{prefix}-{i}", "plan_id": "plan-100m",
            "line_status": "active" if active else "pending", "service_latitude": "", "service_longitude": "",
            "timezone": "Europe/Paris",
        }  # fmt: skip
        if bad and i % step == step - 1 and len(expected) < bad:
            change, column = BAD_WAYS[len(expected) % len(BAD_WAYS)]
            cells |= change
            if column == "service_latitude":
                cells["service_longitude"] = "2.35"
            expected[i + 2] = column  # the header is row 1
        writer.writerow([cells[h] for h in HEADER])
    return out.getvalue().encode(), expected


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def as_xlsx(data: bytes) -> bytes:
    """The CSV file as a workbook of one sheet, as a spreadsheet would type its cells: coordinates as numbers."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    rows = list(csv.reader(io.StringIO(data.decode())))
    numeric = {rows[0].index(c) for c in ("service_latitude", "service_longitude") if c in rows[0]}
    for n, row in enumerate(rows):
        sheet.append([float(v) if n and i in numeric and v else (v or None) for i, v in enumerate(row)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


async def submit_import(service: Running, tenant: str, data: bytes, *roles: str, content_type: str = "text/csv") -> Any:
    return await service.client.post(
        "/bulk-operations/imports",
        content=data,
        headers=service.headers(tenant, *roles) | {"Content-Type": content_type},
    )


async def finished(service: Running, tenant: str, op_id: str, timeout: float = 60) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        view = (await service.client.get(f"/bulk-operations/{op_id}", headers=service.headers(tenant))).json()
        return view if view["state"] not in ("queued", "running") else None

    result: dict[str, Any] = await eventually(check, timeout=timeout, interval=0.1)
    return result
