"""The customer import file, as pure rules: its columns, how a row becomes a customer (and a line), and why not.

The file is CSV (UTF-8, optional BOM) or XLSX (its first sheet), a header row then one row per customer. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first customer row 2. Every error names the row
and the column.

Columns: `name` (required) and any of `IMPORT_COLUMNS`. `tags` holds tags separated by `;`. A row with a
`username` also creates the customer's line (subscriber), with `plan_id` and `line_status` (`pending`, the
default, or `active` for lines migrated while in service).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

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
        header = _header(next(reader))
    except (StopIteration, csv.Error) as exc:
        raise FileRefused("the file has no header row") from exc
    try:
        return _rows(header, enumerate(reader, start=2))
    except csv.Error as exc:
        raise FileRefused(f"row {reader.line_num}: {exc}") from exc


def read_xlsx(data: bytes, *, max_unzipped_bytes: int) -> list[FileRow]:
    """The first sheet of an XLSX workbook, read as the CSV file is: row 1 the header, the same columns and
    rules. Cells keep the value the sheet shows (numbers without a trailing `.0`, dates as ISO 8601)."""
    if not data.strip():
        raise FileRefused("the file is empty")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise FileRefused("the file is not an XLSX workbook (not a zip archive)") from exc
    if unzipped > max_unzipped_bytes:
        raise FileRefused(f"the workbook unpacks to {unzipped} bytes; the limit is {max_unzipped_bytes}")
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise FileRefused(f"the file is not an XLSX workbook ({type(exc).__name__})") from exc
    try:
        if not workbook.worksheets:
            raise FileRefused("the workbook has no sheet")
        cells = workbook.worksheets[0].iter_rows(values_only=True)
        first = next(cells, None)
        if first is None:
            raise FileRefused("the file has no header row")
        header = _header([_cell_text(c) for c in first])
        return _rows(header, ((n, [_cell_text(c) for c in row]) for n, row in enumerate(cells, start=2)))
    except (KeyError, ValueError, TypeError, ElementTree.ParseError) as exc:  # a damaged sheet
        raise FileRefused(f"the workbook cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from exc
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _header(cells: list[str]) -> list[str]:
    header = [h.strip().lower() for h in cells]
    while header and not header[-1]:  # a sheet's trailing empty cells
        header.pop()
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
    return header


def _rows(header: list[str], numbered: Iterable[tuple[int, list[str]]]) -> list[FileRow]:
    rows: list[FileRow] = []
    for number, cells in numbered:
        if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
            rows.append(FileRow(number, {"": f"{len(cells)} cells for {len(header)} columns"}))
            continue
        values = {h: c.strip() for h, c in zip(header, cells, strict=False) if c.strip()}
        if values:
            rows.append(FileRow(number, values))
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
