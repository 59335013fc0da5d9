"""Document numbers: one gapless sequence per tenant, series and calendar year of the issue date."""

from __future__ import annotations

from enum import StrEnum


class Series(StrEnum):
    INVOICE = "INV"
    CREDIT_NOTE = "CN"


def document_number(series: Series, year: int, sequence: int) -> str:
    """`INV-2026-000123`: series, the issue date's year, the sequence within that year (1-based)."""
    if sequence < 1:
        raise ValueError("sequences start at 1")
    return f"{series.value}-{year:04d}-{sequence:06d}"
