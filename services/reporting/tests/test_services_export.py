"""GET /billing/reports/services/export: active (and suspended) services as csv, json, xlsx or parquet,
streamed chunk by chunk, with the seed's filename."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq

from bss_contracts import DomainEvent

from .reporting_support import Harness, customer, new_tenant, status, subscriber

HEADER = "subscriber_id,username,status,created_at,suspended_at,customer_id,customer_name,plan_id,activated_at"
CREATED = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
ACTIVATED = datetime(2024, 1, 16, tzinfo=UTC)
SUSPENDED = datetime(2024, 10, 1, 9, tzinfo=UTC)


async def seed_services(reporting: Harness, tenant: str) -> None:
    events: list[tuple[DomainEvent, str]] = [
        (customer("c1", "Acme"), tenant),
        (customer("c2", 'Bob, "the builder"'), tenant),
        (customer("c3", "Carol"), tenant),
    ]
    for sid, cid in [("s0", "c0"), ("s1", "c1"), ("s2", "c2"), ("s3", "c3"), ("s4", "c3"), ("s5", "c3")]:
        events.append((subscriber(sid, cid, f"user-{sid}", created_at=CREATED), tenant))
        if sid != "s5":  # s5 stays pending
            events.append((status("activate", sid, cid, f"user-{sid}", ACTIVATED), tenant))
    events.append((status("suspend", "s3", "c3", "user-s3", SUSPENDED), tenant))
    events.append((status("terminate", "s4", "c3", "user-s4", SUSPENDED), tenant))
    await reporting.publish(*events)


EXPECTED_CSV = f"""{HEADER}
s0,user-s0,active,2024-01-15T10:30:00Z,,c0,,plan-100,2024-01-16T00:00:00Z
s1,user-s1,active,2024-01-15T10:30:00Z,,c1,Acme,plan-100,2024-01-16T00:00:00Z
s2,user-s2,active,2024-01-15T10:30:00Z,,c2,"Bob, ""the builder\"\"\",plan-100,2024-01-16T00:00:00Z
"""
SUSPENDED_LINE = (
    "s3,user-s3,suspended,2024-01-15T10:30:00Z,2024-10-01T09:00:00Z,c3,Carol,plan-100,2024-01-16T00:00:00Z\n"
)


async def test_csv_of_active_services_byte_for_byte(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_services(reporting, tenant)

    response = await reporting.get("services/export", tenant, "finance")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert response.headers["content-disposition"] == f'attachment; filename="services_export_{today}.csv"'
    assert response.text == EXPECTED_CSV

    with_suspended = await reporting.get("services/export", tenant, "ops", include_suspended="true")
    assert with_suspended.text == EXPECTED_CSV + SUSPENDED_LINE


async def test_json_array(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_services(reporting, tenant)

    response = await reporting.get("services/export", tenant, "finance", format="json", include_suspended="true")

    assert response.headers["content-type"] == "application/json"
    assert re.fullmatch(r'attachment; filename="services_export_\d{8}\.json"', response.headers["content-disposition"])
    rows = json.loads(response.content)
    assert [r["subscriber_id"] for r in rows] == ["s0", "s1", "s2", "s3"]
    assert rows[3] == {
        "subscriber_id": "s3",
        "username": "user-s3",
        "status": "suspended",
        "created_at": "2024-01-15T10:30:00Z",
        "suspended_at": "2024-10-01T09:00:00Z",
        "customer_id": "c3",
        "customer_name": "Carol",
        "plan_id": "plan-100",
        "activated_at": "2024-01-16T00:00:00Z",
    }
    assert rows[0]["customer_name"] is None


async def test_parquet_with_typed_columns(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_services(reporting, tenant)

    response = await reporting.get("services/export", tenant, "finance", format="parquet", include_suspended="true")

    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == HEADER.split(",")
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    rows = table.to_pylist()
    assert [r["subscriber_id"] for r in rows] == ["s0", "s1", "s2", "s3"]
    assert rows[3]["suspended_at"] == SUSPENDED
    assert rows[2]["customer_name"] == 'Bob, "the builder"'
    assert rows[1]["suspended_at"] is None


def read_xlsx(content: bytes) -> list[list[str | float | None]]:
    """The cells of the first sheet (inline strings and numbers; what xlsxwriter writes in constant_memory)."""
    sheet = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml").decode()
    out = []
    for row in re.findall(r"<row [^>]*>(.*?)</row>", sheet):
        cells: list[str | float | None] = [None] * 9
        for ref, body in re.findall(r'<c r="([A-Z]+)\d+"[^>]*>(.*?)</c>', row):
            text, number = re.search(r"<t>(.*?)</t>", body), re.search(r"<v>(.*?)</v>", body)
            cells[ord(ref) - ord("A")] = (
                html.unescape(text.group(1)) if text else float(number.group(1)) if number else None
            )
        out.append(cells)
    return out


def excel_date(serial: float) -> datetime:
    return datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=serial)


async def test_xlsx(reporting: Harness) -> None:
    tenant = new_tenant()
    await seed_services(reporting, tenant)

    response = await reporting.get("services/export", tenant, "ops", format="xlsx")

    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"].endswith('.xlsx"')
    cells = read_xlsx(response.content)
    assert cells[0] == [
        "subscriber_id", "username", "status", "created_at (UTC)", "suspended_at (UTC)", "customer_id",
        "customer_name", "plan_id", "activated_at (UTC)",
    ]  # fmt: skip
    assert [c[0] for c in cells[1:]] == ["s0", "s1", "s2"]
    assert cells[3][6] == 'Bob, "the builder"'
    assert excel_date(cells[1][3]) == CREATED  # type: ignore[arg-type]
    assert excel_date(cells[1][8]) == ACTIVATED  # type: ignore[arg-type]


async def test_many_rows_stream_in_chunks(reporting: Harness) -> None:
    """250 services in 100-row chunks and row groups: every format carries every row, in order."""
    tenant = new_tenant()
    events = []
    for n in range(250):
        sid = f"s{n:04d}"
        events += [(subscriber(sid, "c", f"u{n}"), tenant), (status("activate", sid, "c", f"u{n}", ACTIVATED), tenant)]
    await reporting.publish(*events)

    csv_lines = (await reporting.get("services/export", tenant, "finance")).text.splitlines()
    assert len(csv_lines) == 251
    assert csv_lines[1].startswith("s0000,u0,active,") and csv_lines[-1].startswith("s0249,u249,active,")
    parquet = pq.ParquetFile(
        io.BytesIO((await reporting.get("services/export", tenant, "finance", format="parquet")).content)
    )
    assert (parquet.metadata.num_rows, parquet.metadata.num_row_groups) == (250, 3)
    rows = json.loads((await reporting.get("services/export", tenant, "finance", format="json")).content)
    assert [r["subscriber_id"] for r in rows] == [f"s{n:04d}" for n in range(250)]
    xlsx = read_xlsx((await reporting.get("services/export", tenant, "finance", format="xlsx")).content)
    assert len(xlsx) == 251 and xlsx[-1][0] == "s0249"


async def test_unknown_format_is_422(reporting: Harness) -> None:
    response = await reporting.get("services/export", new_tenant(), "finance", format="pdf")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "format"]
    response = await reporting.get("services/export", new_tenant(), "finance", include_suspended="perhaps")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "include_suspended"]
