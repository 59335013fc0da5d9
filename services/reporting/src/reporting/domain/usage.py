"""Unit conversions of the session report, as in seed 000: GB are binary (2^30 bytes), shown to 3 decimals;
hours to 2 decimals. Exact byte and second counts are always reported beside them."""

from __future__ import annotations

GIB = 1 << 30


def gigabytes(octets: int) -> float:
    return round(octets / GIB, 3)


def hours(seconds: int) -> float:
    return round(seconds / 3600, 2)
