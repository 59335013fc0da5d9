"""SLA availability, breach, severity and credit, computed exactly (fractions, whole microseconds).

- Downtime in a window is the length of the UNION of the outages clipped to it (overlaps count once); an
  outage still open counts up to `now`.
- Availability = 1 - downtime / window length, as a percentage.
- A breach is availability below the target: at the end of the period, or as soon as the downtime so far
  makes the target unreachable even if nothing else goes wrong.
- Credit: `credit_percent_per_step` % of the fee for every `step_percent` points (or part thereof) below the
  target, capped at `cap_percent` %; the amount rounded half away from zero to a minor unit.
- Severity by the shortfall in percentage points: below `major_from_points` minor, below
  `critical_from_points` major, otherwise critical.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from billing.domain.amounts import round_half_away

Severity = Literal["minor", "major", "critical"]
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class Outage:
    start: datetime
    end: datetime | None  # None: still going on


def downtime(outages: Iterable[Outage], window_start: datetime, window_end: datetime, now: datetime) -> timedelta:
    """Length of the union of `outages` within [window_start, min(window_end, now))."""
    horizon = min(window_end, now)
    spans = sorted(
        (max(o.start, window_start), min(o.end or horizon, horizon))
        for o in outages
    )  # fmt: skip
    total = timedelta(0)
    covered_until = window_start
    for start, end in spans:
        start = max(start, covered_until)
        if end > start:
            total += end - start
            covered_until = end
    return total


def availability_percent(down: timedelta, window: timedelta) -> Fraction:
    if window <= timedelta(0):
        raise ValueError("the window must be longer than zero")
    return 100 * (1 - Fraction(down // _MICRO, window // _MICRO))


@dataclass(frozen=True)
class CreditRule:
    target_percent: Decimal
    step_percent: Decimal = Decimal("0.1")
    credit_percent_per_step: Decimal = Decimal(10)
    cap_percent: Decimal = Decimal(50)
    major_from_points: Decimal = Decimal("0.5")
    critical_from_points: Decimal = Decimal(2)

    def shortfall_points(self, actual_percent: Fraction) -> Fraction:
        return max(Fraction(0), Fraction(self.target_percent) - actual_percent)

    def breached(self, actual_percent: Fraction) -> bool:
        return actual_percent < Fraction(self.target_percent)

    def steps(self, actual_percent: Fraction) -> int:
        return math.ceil(self.shortfall_points(actual_percent) / Fraction(self.step_percent))

    def credit_percent(self, actual_percent: Fraction) -> Fraction:
        return min(self.steps(actual_percent) * Fraction(self.credit_percent_per_step), Fraction(self.cap_percent))

    def credit_minor(self, fee_minor: int, actual_percent: Fraction) -> int:
        return round_half_away(fee_minor * self.credit_percent(actual_percent) / 100)

    def severity(self, actual_percent: Fraction) -> Severity:
        short = self.shortfall_points(actual_percent)
        if short >= Fraction(self.critical_from_points):
            return "critical"
        if short >= Fraction(self.major_from_points):
            return "major"
        return "minor"

    def deviation_percent(self, actual_percent: Fraction) -> Fraction:
        """How far below the target, relative to it (99.9 -> 97.5 is 2.40 %)."""
        return self.shortfall_points(actual_percent) / Fraction(self.target_percent) * 100

    def cannot_be_met(self, down_so_far: timedelta, window: timedelta) -> bool:
        """True once the downtime so far alone puts the period's availability below the target."""
        return self.breached(availability_percent(down_so_far, window))

    def explain(self, fee_minor: int, actual_percent: Fraction, currency: str) -> str:
        steps = self.steps(actual_percent)
        pct = self.credit_percent(actual_percent)
        capped = " (capped)" if steps * Fraction(self.credit_percent_per_step) > pct else ""
        return (
            f"{_num(self.credit_percent_per_step)}% of the fee per {_num(self.step_percent)} points (or part "
            f"thereof) below {_num(self.target_percent)}%, capped at {_num(self.cap_percent)}%: availability "
            f"{float(actual_percent):.4f}% is {steps} step(s) below -> {float(pct):g}%{capped} of {fee_minor} "
            f"{currency} minor units = {self.credit_minor(fee_minor, actual_percent)}"
        )


def _num(value: Decimal) -> str:
    return format(value.normalize(), "f")
