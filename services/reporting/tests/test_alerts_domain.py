"""Alerts' pure rules: state steps, parameter checks, calendar arithmetic (no database, no broker)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from reporting.alerts.domain.measures import same_day_previous_month, usage_windows
from reporting.alerts.domain.rules import ParameterError, RuleKind, check_parameters, holds, percent_drop
from reporting.alerts.domain.states import ActiveAlert, AlertState, Step, next_step

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _alert(state: AlertState, started: timedelta, notified: timedelta | None = None, ack: bool = False) -> ActiveAlert:
    return ActiveAlert(state, T0 - started, None if notified is None else T0 - notified, ack)


@pytest.mark.parametrize(
    ("alert", "condition", "for_s", "expected"),
    [
        (None, False, 0, Step.NONE),
        (None, True, 0, Step.FIRE),
        (None, True, 60, Step.START_PENDING),
        (_alert(AlertState.PENDING, timedelta(seconds=59)), True, 60, Step.NONE),
        (_alert(AlertState.PENDING, timedelta(seconds=60)), True, 60, Step.FIRE),
        (_alert(AlertState.PENDING, timedelta(seconds=600)), False, 60, Step.DROP_PENDING),
        (_alert(AlertState.FIRING, timedelta(hours=1), timedelta(minutes=59)), True, 0, Step.NONE),
        (_alert(AlertState.FIRING, timedelta(hours=1), timedelta(hours=1)), True, 0, Step.REMIND),
        (_alert(AlertState.FIRING, timedelta(hours=1), None), True, 0, Step.REMIND),  # fired while silenced
        (_alert(AlertState.FIRING, timedelta(hours=5), timedelta(hours=5), ack=True), True, 0, Step.NONE),
        (_alert(AlertState.FIRING, timedelta(hours=5), timedelta(hours=5), ack=True), False, 0, Step.RESOLVE),
    ],
)
def test_next_step(alert: ActiveAlert | None, condition: bool, for_s: int, expected: Step) -> None:
    assert next_step(alert, condition, T0, for_seconds=for_s, repeat_seconds=3600) is expected


@pytest.mark.parametrize(
    ("kind", "parameters", "field"),
    [
        (RuleKind.USAGE_DROP, {"threshold_percent": -1}, "threshold_percent"),
        (RuleKind.USAGE_DROP, {"threshold_percent": 0}, "threshold_percent"),
        (RuleKind.NAS_CONCURRENCY, {}, "threshold_percent"),
        (RuleKind.USAGE_DROP, {"threshold_percent": 5, "window_hours": 0}, "window_hours"),
        (RuleKind.MRR_DROP, {"threshold_percent": "ten"}, "threshold_percent"),
        (RuleKind.CONSUMER_LAG, {"max_lag": -3}, "max_lag"),
        (RuleKind.DEAD_LETTERS, {"extra": 1}, "extra"),
    ],
)
def test_bad_parameters_name_their_field(kind: RuleKind, parameters: dict[str, object], field: str) -> None:
    with pytest.raises(ParameterError) as caught:
        check_parameters(kind, parameters)
    assert caught.value.field == field


def test_parameters_get_the_kind_defaults() -> None:
    assert check_parameters(RuleKind.MRR_DROP, {}) == {"threshold_percent": 10}  # seed 003's thresholds
    assert check_parameters(RuleKind.LOGO_CHURN, {}) == {"threshold_percent": 5}
    assert check_parameters(RuleKind.USAGE_DROP, {})["threshold_percent"] == 20
    assert check_parameters(RuleKind.USAGE_DROP, {"threshold_percent": 20}) == {
        "threshold_percent": 20,
        "scope": "tenant",
        "window_hours": 24,
    }
    assert holds(RuleKind.SLA_BREACHES, 3, 3) and not holds(RuleKind.USAGE_DROP, 20, 20)
    assert percent_drop(0, 5) is None and percent_drop(200, 50) == 75.0


def test_calendar() -> None:
    assert same_day_previous_month(date(2026, 3, 31)) == date(2026, 2, 28)
    assert same_day_previous_month(date(2026, 1, 15)) == date(2025, 12, 15)
    (start, end), (week_start, week_end) = usage_windows(datetime(2026, 3, 10, 12, 45, tzinfo=UTC), 24)
    assert (start, end) == (datetime(2026, 3, 9, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert (week_start, week_end) == (start - timedelta(days=7), end - timedelta(days=7))
    assert week_start.weekday() == start.weekday()
