"""Alert states, as Prometheus Alertmanager has them: one alert per rule and subject.

- condition true, no active alert: a new alert, `pending` (or `firing` at once when the rule's `for` is 0);
- pending and still true for `for` seconds since it started: `firing` (an AlertFiring event, notifications);
- pending and no longer true: dropped without a trace (it never fired: nobody is told);
- firing and still true: nothing, except a reminder every `repeat` seconds since the last notification
  (none while the alert is acknowledged or silenced; one as soon as a silence ends if it was never notified);
- firing and no longer true (or its subject no longer measured): `resolved` (AlertResolved, notifications).
A later true condition starts a new alert. Silences suppress notifications only: the events are still written
(they are the record; a silence is a person's choice not to be told).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class AlertState(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Step(StrEnum):
    NONE = "none"
    START_PENDING = "start_pending"
    FIRE = "fire"  # from nothing (for = 0) or from pending
    DROP_PENDING = "drop_pending"
    REMIND = "remind"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class ActiveAlert:
    state: AlertState
    started_at: datetime
    last_notified_at: datetime | None
    acknowledged: bool


def next_step(
    alert: ActiveAlert | None, condition: bool, now: datetime, *, for_seconds: int, repeat_seconds: int
) -> Step:
    if alert is None:
        if not condition:
            return Step.NONE
        return Step.FIRE if for_seconds == 0 else Step.START_PENDING
    if alert.state is AlertState.PENDING:
        if not condition:
            return Step.DROP_PENDING
        return Step.FIRE if now - alert.started_at >= timedelta(seconds=for_seconds) else Step.NONE
    if alert.state is AlertState.FIRING:
        if not condition:
            return Step.RESOLVE
        if alert.acknowledged:
            return Step.NONE
        # Never notified (it fired during a silence): remind as soon as nothing silences it.
        if alert.last_notified_at is None or now - alert.last_notified_at >= timedelta(seconds=repeat_seconds):
            return Step.REMIND
    return Step.NONE


def notifies(step: Step) -> bool:
    return step in (Step.FIRE, Step.REMIND, Step.RESOLVE)
