"""Report rows (the endpoint's JSON objects, flattened) written as csv, xlsx, Parquet, HTML and fixed-width text.

Unlike the services export's writers (adapters/exporters.py: strings and timestamps only, streamed), these keep
the JSON types: numbers stay numbers in xlsx and Parquet (finance sums them), booleans stay booleans, and the
report's date-time columns become real date-times (UTC). Rows are few enough to hold (BI_MAX_ROWS).
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from bss_contracts.money import minor_unit_exponent
from reporting.adapters.exporters import MEDIA_TYPES as EXPORT_MEDIA_TYPES
from reporting.adapters.exporters import XLSX_MAX_ROWS

MEDIA_TYPES = EXPORT_MEDIA_TYPES | {
    "html": "text/html; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "pdf": "application/pdf",
}
AGING_BUCKETS = ("current", "1_30_days", "31_60_days", "61_90_days", "over_90_days")
TXT_MAX_WIDTH = 40  # a text column is cut to this many characters (the end marked with ~)

Row = Mapping[str, Any]


class RenderError(Exception):
    """The rows cannot be written in this format (e.g. too many rows for an xlsx sheet)."""


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> bytes:
    """RFC 4180 (CRLF, quotes where needed), UTF-8, header first; null is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_text(row.get(c)) for c in columns])
    return out.getvalue().encode()


def to_xlsx(rows: Sequence[Row], columns: Sequence[str], timestamps: set[str], sheet_name: str) -> bytes:
    if len(rows) > XLSX_MAX_ROWS:
        raise RenderError(f"{len(rows)} rows do not fit in one xlsx sheet; use csv or parquet")
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "remove_timezone": True})
    sheet = workbook.add_worksheet(sheet_name[:31])
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "bottom": 1})
    titles = [f"{c} (UTC)" if c in timestamps else c for c in columns]
    sheet.write_row(0, 0, titles, header)
    sheet.freeze_panes(1, 0)  # the header stays in view
    for c, name in enumerate(columns):  # wide enough for the header and the longest value, within reason
        longest = max([len(titles[c]), *(19 if name in timestamps else len(_text(row.get(name))) for row in rows)])
        sheet.set_column(c, c, min(60, longest + 2))
    for r, row in enumerate(rows, start=1):
        for c, name in enumerate(columns):
            value = row.get(name)
            moment = _when(value) if name in timestamps else None
            if value is None:
                continue
            if moment is not None:
                sheet.write_datetime(r, c, moment, when)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    workbook.close()
    return buffer.getvalue()


def _column(name: str, values: list[Any], timestamps: set[str]) -> pa.Array:
    if name in timestamps:
        return pa.array([_when(v) for v in values], type=pa.timestamp("us", tz="UTC"))
    if all(v is None for v in values):
        return pa.array(values, type=pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: kept as text
        return pa.array([None if v is None else _text(v) for v in values], type=pa.string())


def to_parquet(rows: Sequence[Row], columns: Sequence[str], timestamps: set[str]) -> bytes:
    table = pa.table({c: _column(c, [row.get(c) for row in rows], timestamps) for c in columns})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def _table(rows: Sequence[Row], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(row.get(c)))}</td>" for c in columns) + "</tr>" for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


_STYLE = (
    "body{font-family:sans-serif;font-size:13px}table{border-collapse:collapse;margin-bottom:1em}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#eee}"
)


def to_html(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str,
    generated_at: datetime,
    parameters: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
    extra_style: str = "",
    chart: str = "",
) -> bytes:
    """A self-contained page: title, when and with which parameters it ran, the summary, the rows."""
    params = ", ".join(f"{k}={_text(v)}" for k, v in sorted(parameters.items())) or "none"
    parts = [
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}{extra_style}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {generated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; parameters: {html.escape(params)}; "
        f"{len(rows)} rows.</p>",
    ]
    if summary:
        parts.append("<h2>Summary</h2>")
        parts.append(_table([{"name": k, "value": v} for k, v in summary.items()], ["name", "value"]))
    if chart:
        parts.append(chart)
    parts.append(_table(rows, columns))
    parts.append("</body></html>\n")
    return "\n".join(parts).encode()


def _cell(value: Any) -> str:
    text = _text(value).replace("\n", " ")
    return text if len(text) <= TXT_MAX_WIDTH else text[: TXT_MAX_WIDTH - 1] + "~"


def _fixed_width(rows: Sequence[Row], columns: Sequence[str]) -> list[str]:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row.get(c), int | float) and not isinstance(row.get(c), bool) for row in rows if
                   row.get(c) is not None) for c in columns]  # fmt: skip

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True))

    return [line(columns).rstrip(), "  ".join("-" * w for w in widths), *(line(r).rstrip() for r in cells)]


def to_txt(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str,
    generated_at: datetime,
    parameters: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
) -> bytes:
    """A fixed-width text report (seed 004's TXT): title, when and with which parameters, the summary, then one
    line per row with aligned columns (numbers right-aligned); UTF-8, LF line ends."""
    params = ", ".join(f"{k}={_text(v)}" for k, v in sorted(parameters.items())) or "none"
    lines = [title, "=" * len(title), f"Generated {generated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
             f"Parameters: {params}", f"Rows: {len(rows)}", ""]  # fmt: skip
    if summary:
        lines += ["Summary", *_fixed_width([{"name": k, "value": v} for k, v in summary.items()], ["name", "value"])]
        lines.append("")
    lines += _fixed_width(rows, columns)
    return ("\n".join(lines) + "\n").encode()


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def aging_chart(rows: Sequence[Row]) -> str:
    """An SVG bar chart of the open balance per aging bucket, one group per currency (amounts never added across
    currencies); empty when the rows have no buckets."""
    by_currency: dict[str, dict[str, int]] = {}
    for row in rows:
        if not any(f"buckets_minor_{b}" in row for b in AGING_BUCKETS):
            return ""
        sums = by_currency.setdefault(str(row.get("currency")), dict.fromkeys(AGING_BUCKETS, 0))
        for b in AGING_BUCKETS:
            sums[b] += int(row.get(f"buckets_minor_{b}") or 0)
    if not by_currency:
        return ""
    bar_h, label_w, bar_w = 16, 170, 420
    lines, y = [], 0
    for currency, sums in sorted(by_currency.items()):
        top = max(sums.values()) or 1
        lines.append(f'<text x="0" y="{y + 12}" font-weight="bold">{html.escape(currency)}</text>')
        y += bar_h + 4
        for b in AGING_BUCKETS:
            width = round(bar_w * sums[b] / top)
            amount = f"{Decimal(sums[b]).scaleb(-minor_unit_exponent(currency)):f}"
            lines.append(f'<text x="0" y="{y + 12}">{b}</text>')
            lines.append(f'<rect x="{label_w}" y="{y}" width="{width}" height="{bar_h - 3}" fill="#4a78b5"/>')
            lines.append(f'<text x="{label_w + width + 6}" y="{y + 12}">{amount} {html.escape(currency)}</text>')
            y += bar_h
        y += 8
    return (
        "<h2>Aging by bucket</h2>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{y}" font-size="11" '
        f'font-family="sans-serif">{"".join(lines)}</svg>'
    )


def to_pdf(
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    title: str,
    tenant: str,
    report: str,
    generated_at: datetime,
    parameters: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
) -> bytes:
    """The HTML output printed by WeasyPrint (A4 landscape): on every page a header with the tenant, the report and
    its parameters, and a footer with when it was generated and "page n of m"; the aging chart where the report
    has buckets."""
    from weasyprint import HTML  # imported here: loading pango costs time no other format needs

    params = ", ".join(f"{k}={_text(v)}" for k, v in sorted(parameters.items())) or "none"
    header = f"{tenant} | {title} ({report}) | parameters: {params}"
    footer = f"Generated {generated_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    page_style = (
        "@page{size:A4 landscape;margin:18mm 10mm 16mm 10mm;"
        f"@top-left{{content:{_css_string(header)};font-size:9px;font-family:sans-serif}}"
        f"@bottom-left{{content:{_css_string(footer)};font-size:9px;font-family:sans-serif}}"
        '@bottom-right{content:"Page " counter(page) " of " counter(pages);font-size:9px;font-family:sans-serif}}'
        "body{font-size:9px}td,th{font-size:8px}"
    )
    document = to_html(rows, columns, title=title, generated_at=generated_at, parameters=parameters,
                       summary=summary, extra_style=page_style, chart=aging_chart(rows))  # fmt: skip
    pdf: bytes = HTML(string=document.decode()).write_pdf()
    return pdf
