"""The BI module's pure rules: recurrence across daylight-saving changes, roles, parameters, file names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bss_runtime.auth import Principal
from reporting.bi.domain import model as bi
from reporting.bi.domain.model import Invalid, ReportType


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cron", "zone", "after", "expected"),
    [
        ("0 6 * * 1", "Europe/Berlin", utc(2025, 3, 3, 5, 0), utc(2025, 3, 10, 5, 0)),  # strictly after: next week
        ("0 6 * * 1", "Europe/Berlin", utc(2025, 3, 3, 4, 59), utc(2025, 3, 3, 5, 0)),
        ("0 6 * * 1", "Europe/Berlin", utc(2025, 3, 30, 12), utc(2025, 3, 31, 4, 0)),  # summer time: 04:00 UTC
        ("30 2 * * *", "Europe/Berlin", utc(2025, 3, 29, 12), utc(2025, 3, 30, 1, 0)),  # 02:30 skipped: at 03:00
        ("30 2 * * *", "Europe/Berlin", utc(2025, 10, 25, 12), utc(2025, 10, 26, 0, 30)),  # twice that night: once
        ("30 2 * * *", "Europe/Berlin", utc(2025, 10, 26, 0, 31), utc(2025, 10, 27, 1, 30)),
        ("0 6 1 * *", "America/New_York", utc(2025, 1, 31, 12), utc(2025, 2, 1, 11, 0)),
        ("*/15 * * * *", "UTC", utc(2025, 1, 1, 0, 7), utc(2025, 1, 1, 0, 15)),
    ],
)
def test_next_run_reads_the_expression_in_its_zone(cron: str, zone: str, after: datetime, expected: datetime) -> None:
    assert bi.next_run(cron, zone, after) == expected


@pytest.mark.parametrize(
    ("cron", "zone", "field"),
    [("0 6 * *", "UTC", "cron"), ("0 0 6 * * 1", "UTC", "cron"), ("0 25 * * *", "UTC", "cron"),
     ("0 0 31 2 *", "UTC", "cron"), ("0 6 * * 1", "Europe/Nowhere", "timezone")],
)  # fmt: skip
def test_bad_recurrences(cron: str, zone: str, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        bi.next_run(cron, zone, utc(2025, 1, 1))
    assert caught.value.field == (field,)


def principal(*roles: str, subject: str = "u1") -> Principal:
    return Principal(subject=subject, tenant_id="t", roles=frozenset(roles))


def test_roles() -> None:
    assert bi.template_roles(ReportType.COLLECTIONS, "aging/by-region") == {"finance", "collections"}
    assert bi.template_roles(ReportType.SUPPORT, "blocked-customers") == {"support"}
    assert bi.template_roles(ReportType.SUPPORT, "sessions/history") == {"support", "ops"}
    assert bi.template_roles(ReportType.FINANCIAL, "sessions/history") == set()
    assert bi.may_author(principal("finance"), ReportType.COLLECTIONS)
    assert not bi.may_author(principal("collections"), ReportType.COLLECTIONS)
    assert bi.may_author(principal("ops"), ReportType.SUPPORT) and bi.may_author(principal("admin"), ReportType.SUPPORT)
    assert not bi.may_run(principal("ops"), ReportType.SUPPORT, "blocked-customers")  # ops may not see it
    see = {"is_public": False, "created_by": "u1"}
    assert bi.may_see(principal("support"), ReportType.SUPPORT, "blocked-customers", **see)  # type: ignore[arg-type]
    assert not bi.may_see(principal("support", subject="u2"), ReportType.SUPPORT, "blocked-customers", **see)  # type: ignore[arg-type]
    assert bi.may_see(principal("admin", subject="u2"), ReportType.SUPPORT, "blocked-customers", **see)  # type: ignore[arg-type]


def test_parameters() -> None:
    schema = {"type": "object", "properties": {"as_of": {"type": "string", "format": "date"}}, "required": ["as_of"]}
    assert [p.field for p in bi.check_parameters(schema, {}, "parameters")] == [("parameters", "as_of")]
    assert bi.check_parameters(schema, {}, "default_parameters", partial=True) == []
    assert [p.field for p in bi.check_parameters(schema, {"as_of": "2025-02-30"}, "p")] == [("p", "as_of")]
    assert [p.field for p in bi.check_parameters({"type": "object"}, {"x": [1]}, "p")] == [("p", "x")]
    source = bi.SOURCES["blocked-customers"]
    query = bi.query_parameters(source, {"include_zero_balance": True, "min_days_blocked": 3, "other": 1})
    assert query == {"include_zero_balance": "true", "min_days_blocked": "3"}


def test_outputs() -> None:
    assert bi.output_filename("Aging — by région / Q1!", utc(2025, 3, 31, 6, 0, 5), "xlsx") == (
        "aging_by_region_q1_20250331_060005.xlsx"
    )
    assert bi.output_filename("!!!", utc(2025, 1, 1), "csv") == "report_20250101_000000.csv"
    assert bi.output_filename("Отчёт", utc(2025, 1, 1), "csv") == "report_20250101_000000.csv"
    assert bi.flatten({"a": 1, "b": {"c": 2, "d": {"e": None}}}) == {"a": 1, "b_c": 2, "b_d_e": None}
    assert bi.columns_of([{"a": 1}, {"b": 2, "a": 3}]) == ["a", "b"]
    assert [bi.retry_delay(60, n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
