"""Relative date parameters of BI templates and schedules (`last_month`, `month_to_date`, `previous_quarter`,
`today-30d`): kept as written on the template or schedule, resolved when the execution is created, in the
schedule's time zone (UTC for a run asked for by hand)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from reporting.bi.domain.relative_dates import period, resolve

from .bi_support import BiHarness
from .reporting_support import new_tenant

AS_OF_SCHEMA = {"type": "object", "properties": {"as_of": {"type": "string", "format": "date"}}}


@pytest.mark.parametrize(
    ("token", "today", "first", "last"),
    [
        ("last_month", date(2026, 3, 15), date(2026, 2, 1), date(2026, 2, 28)),
        ("last_month", date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31)),
        ("month_to_date", date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 15)),
        ("previous_quarter", date(2026, 5, 20), date(2026, 1, 1), date(2026, 3, 31)),
        ("previous_quarter", date(2026, 2, 1), date(2025, 10, 1), date(2025, 12, 31)),
        ("today-30d", date(2026, 3, 15), date(2026, 2, 13), date(2026, 2, 13)),
        ("today+7d", date(2026, 12, 28), date(2027, 1, 4), date(2027, 1, 4)),
        ("today", date(2024, 2, 29), date(2024, 2, 29), date(2024, 2, 29)),
    ],
)
def test_periods(token: str, today: date, first: date, last: date) -> None:
    assert period(token, today) == (first, last)


def test_not_relative_values_and_the_ends_a_parameter_takes() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)  # already April 1st in Auckland
    auckland = ZoneInfo("Pacific/Auckland")
    assert period("last_fortnight", now.date()) is None
    assert resolve("2026-01-31", "end_day", now, auckland) == "2026-01-31"
    assert resolve(5, "end_day", now, auckland) == 5
    assert resolve("last_month", "end_day", now, UTC) == "2026-02-28"
    assert resolve("last_month", "end_day", now, auckland) == "2026-03-31"
    assert resolve("last_month", "start_day", now, auckland) == "2026-03-01"
    assert resolve("last_month", "month", now, auckland) == "2026-03"
    assert (resolve("previous_quarter", "month", now, UTC), resolve("previous_quarter", "end_month", now, UTC)) == (
        "2025-10",
        "2025-12",
    )
    assert resolve("last_month", "start_at", now, auckland) == "2026-03-01T00:00:00+13:00"
    assert resolve("last_month", "end_at", now, auckland) == "2026-04-01T00:00:00+13:00"


async def test_relative_defaults_resolve_at_each_run_in_the_schedules_time_zone(bi: BiHarness) -> None:
    was = bi.clock.now()
    try:
        await _relative_runs(bi)
    finally:
        bi.clock.set(was)  # the BI clock is shared by the session's tests


async def _relative_runs(bi: BiHarness) -> None:
    tenant = new_tenant()
    template = await bi.template(
        tenant, "finance", report="aging/by-partner", report_type="financial", output_formats=["json"],
        parameters_schema=AS_OF_SCHEMA, default_parameters={"as_of": "last_month"},
    )  # fmt: skip
    assert template["default_parameters"] == {"as_of": "last_month"}  # kept as written

    bi.clock.set(datetime(2026, 4, 10, 12, 0, tzinfo=UTC))
    by_hand = await bi.request_run(tenant, template["template_id"], "finance")
    assert by_hand["parameters"] == {"as_of": "2026-03-31"}
    thirty_days = await bi.request_run(tenant, template["template_id"], "finance", as_of="today-30d")
    assert thirty_days["parameters"] == {"as_of": "2026-03-11"}
    await bi.worker.run_pending_executions()
    done = await bi.execution(tenant, by_hand["execution_id"], "finance")
    assert done["status"] == "completed", done["error"]

    unknown = await bi.call(
        "POST", "/report-executions", tenant, "finance",
        json={"template_id": template["template_id"], "parameters": {"as_of": "last_fortnight"}},
    )  # fmt: skip
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"][-2:] == ["parameters", "as_of"]

    # A schedule at 01:00 in Auckland: on 2026-03-31T12:00Z it is already April 1st there, so last month is March.
    bi.clock.set(datetime(2026, 3, 31, 11, 59, tzinfo=UTC))
    body = {"template_id": template["template_id"], "name": "Month end", "cron": "0 1 * * *",
            "timezone": "Pacific/Auckland"}  # fmt: skip
    created = await bi.req("POST", "/report-schedules", tenant, "finance", status=201, json=body)
    assert created["next_run_at"] == "2026-03-31T12:00:00Z"
    bi.clock.set(datetime(2026, 3, 31, 12, 0, tzinfo=UTC))
    await bi.worker.start_due_schedules()
    runs = [e for e in await bi.req("GET", "/report-executions", tenant) if e["schedule_id"] == created["schedule_id"]]
    assert [e["parameters"] for e in runs] == [{"as_of": "2026-03-31"}]
