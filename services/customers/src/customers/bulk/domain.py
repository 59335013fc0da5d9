"""The customer import file, as pure rules: its columns, how a row becomes a customer (and a line), and why not.

The file is CSV (UTF-8, optional BOM), a header row then one row per customer. Rows are numbered as a
spreadsheet shows them: the header is row 1, the first customer row 2. Every error names the row and the column.

Columns: `name` (required) and any of `IMPORT_COLUMNS`. `tags` holds tags separated by `;`. A row with a
`username` also creates the customer's line (subscriber), with `plan_id` and `line_status` (`pending`, the
default, or `active` for lines migrated while in service).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

CUSTOMER_COLUMNS = (
    "name", "email", "phone", "partner_id", "region", "tags", "timezone",
    "billing_address_line1", "billing_city", "billing_postal_code", "billing_country",
    "service_address_line1", "service_address_line2", "service_city", "service_state_province",
    "service_postal_code", "service_country", "service_latitude", "service_longitude",
    "installation_status", "connection_type", "last_mile_technology", "service_plan_speed",
    "current_bandwidth_profile", "static_ip_assigned", "ipv6_prefix",
)  # fmt: skip
LINE_COLUMNS = ("username", "plan_id", "line_status")
IMPORT_COLUMNS = CUSTOMER_COLUMNS + LINE_COLUMNS
REQUIRED_COLUMNS = ("name",)
LINE_STATUSES = ("pending", "active")


class FileRefused(ValueError):
    """The file as a whole cannot be imported (empty, wrong header, not text): nothing is queued."""


@dataclass(frozen=True)
class FileRow:
    number: int  # as a spreadsheet numbers it: the header is row 1
    values: dict[str, str]  # non-empty cells only, stripped


def read_csv(data: bytes) -> list[FileRow]:
    """Parse the file, check its header; rows with no value at all are skipped."""
    if not data.strip():
        raise FileRefused("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"the file is not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error) as exc:
        raise FileRefused("the file has no header row") from exc
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown:
        raise FileRefused(f"unknown column {unknown[0]!r} in the header; known columns: {', '.join(IMPORT_COLUMNS)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise FileRefused(f"the header has no {missing[0]!r} column")
    seen = set()
    for h in header:
        if h in seen:
            raise FileRefused(f"column {h!r} appears twice in the header")
        seen.add(h)
    rows: list[FileRow] = []
    try:
        for number, cells in enumerate(reader, start=2):
            if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
                rows.append(FileRow(number, {"": f"{len(cells)} cells for {len(header)} columns"}))
                continue
            values = {h: c.strip() for h, c in zip(header, cells, strict=False) if c.strip()}
            if values:
                rows.append(FileRow(number, values))
    except csv.Error as exc:
        raise FileRefused(f"row {reader.line_num}: {exc}") from exc
    if not rows:
        raise FileRefused("the file has a header but no rows")
    return rows


def customer_fields(values: dict[str, str]) -> dict[str, Any]:
    """A row's customer columns as API field values (before validation by the API's customer schema)."""
    out: dict[str, Any] = {k: v for k, v in values.items() if k in CUSTOMER_COLUMNS}
    if "tags" in out:
        out["tags"] = [t.strip() for t in out["tags"].split(";") if t.strip()]
    lat, lon = out.pop("service_latitude", None), out.pop("service_longitude", None)
    if lat is not None or lon is not None:
        out["service_coordinates"] = {"lat": lat, "lon": lon}
    return out


def column_of(loc: tuple[int | str, ...]) -> str:
    """The file column a validation error's location points at."""
    if not loc:
        return ""
    first = str(loc[0])
    if first == "service_coordinates":
        return "service_longitude" if len(loc) > 1 and loc[1] == "lon" else "service_latitude"
    return first
