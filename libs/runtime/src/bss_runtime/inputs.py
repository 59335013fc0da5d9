"""Bounded input types: every value a request carries is checked where it enters, against what will hold it.

A value the database (or Python's own date arithmetic) cannot hold is refused with a 422 naming the field,
instead of failing later as a 500. Each type below states its bound; use them in request bodies and query
parameters alike (they carry no `Query`/`Body` marker, so `Annotated[Offset, Query(alias=...)]` works too).

- `Text(max_length)`: a string of at most the column's length, with no NUL character (PostgreSQL text cannot
  hold one) and no lone surrogate (it cannot be encoded as UTF-8; JSON's `"\\ud800"` decodes to one).
- `Int32`, `Int64` and their non-negative forms: integers that fit `integer` and `bigint` columns.
- `Offset`, `limit(maximum)`: paging; an offset fits a bigint with room for `offset + limit`.
- `Day`, `Timestamp`, `NaiveOrAwareTimestamp`: dates and datetimes in the years 1900-2200, so that converting
  to UTC and adding days or months never overflows.
- `decimal_between(low, high)`: a finite decimal within bounds.
- `JsonObject`: a JSON object at most `MAX_JSON_DEPTH` levels deep whose strings (keys too) are clean text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import annotated_types as at
from pydantic import AfterValidator, AwareDatetime, StringConstraints

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_OFFSET = 10**12
FIRST_YEAR = 1900
LAST_YEAR = 2200
MAX_JSON_DEPTH = 32


def clean_text(value: str) -> str:
    """`value`, if PostgreSQL can store it and UTF-8 can encode it."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text (no lone surrogates such as \\ud800)") from exc
    return value


@dataclass(frozen=True)
class Text(at.GroupedMetadata):
    """`Annotated[str, Text(200)]`: 1 to 200 characters (the column's length), clean text."""

    max_length: int
    min_length: int = 1
    strip_whitespace: bool = False
    pattern: str | None = None

    def __iter__(self) -> Iterator[object]:
        yield from StringConstraints(
            strip_whitespace=self.strip_whitespace,
            min_length=self.min_length,
            max_length=self.max_length,
            pattern=self.pattern,
        )
        yield AfterValidator(clean_text)


# Ids as services keep them (UUID text, or another service's id of at most 64 characters).
Id = Annotated[str, Text(64)]

Int32 = Annotated[int, at.Ge(-INT32_MAX - 1), at.Le(INT32_MAX)]
NonNegativeInt32 = Annotated[int, at.Ge(0), at.Le(INT32_MAX)]
Int64 = Annotated[int, at.Ge(-INT64_MAX - 1), at.Le(INT64_MAX)]
NonNegativeInt64 = Annotated[int, at.Ge(0), at.Le(INT64_MAX)]

Offset = Annotated[int, at.Ge(0), at.Le(MAX_OFFSET)]


def limit(maximum: int) -> Any:
    """`limit: Annotated[int, limit(200)] = 50`: a page of 1 to `maximum` items."""
    return at.Interval(ge=1, le=maximum)


def _in_era(value: datetime) -> datetime:
    # The year is checked on the value as written, before any conversion: year 1 at +14:00 is before UTC's year 1.
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


Day = Annotated[date, at.Ge(date(FIRST_YEAR, 1, 1)), at.Le(date(LAST_YEAR, 12, 31))]
Timestamp = Annotated[AwareDatetime, AfterValidator(_in_era)]
NaiveOrAwareTimestamp = Annotated[datetime, AfterValidator(_in_era)]


def decimal_between(low: Decimal | int, high: Decimal | int) -> Any:
    """`Annotated[Decimal, decimal_between(0, 10**12)]`: finite, from `low` to `high` inclusive."""
    return at.Interval(ge=Decimal(low), le=Decimal(high))


def bounded_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`value` if it nests at most `max_depth` containers deep and all its strings, keys too, are clean text."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            clean_text(item)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise ValueError(f"must not nest more than {max_depth} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(bounded_json)]
