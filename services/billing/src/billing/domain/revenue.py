"""Monthly recurring revenue (MRR) of a subscription and the rule that prorates an immediate plan change.

MRR: the plan's recurring price, tax excluded, without usage or one-off charges, normalised to one month
(a plan billed every N months counts price / N, rounded half to even to the minor unit). Plans are monthly
today, so a subscription's MRR is its plan's price.

Proration of a plan change that takes effect at once, at instant t inside the billing cycle [S, E):
    remaining = (E - t) / (E - S), measured in seconds (the cycle's real length: 28 to 31 days, DST included)
    credit    = old plan price x remaining, rounded half to even to the minor unit
    charge    = new plan price x remaining, rounded half to even to the minor unit
Both are lines of the invoice that closes that cycle, which bills the cycle's first plan in full: old price
- credit + charge. A change exactly at a cycle's start has no proration (the whole cycle is on the new plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Literal

ChangeTiming = Literal["now", "period_end"]


def round_half_even(value: Fraction) -> int:
    """The nearest integer; an exact half goes to the even neighbour (2.5 -> 2, 3.5 -> 4, -2.5 -> -2)."""
    return round(value)


def monthly_amount(price_minor: int, interval_months: int = 1) -> int:
    """The recurring price of one billing cycle of `interval_months` months, as a monthly amount."""
    if interval_months < 1:
        raise ValueError("a billing cycle is at least one month")
    return round_half_even(Fraction(price_minor, interval_months))


def default_timing(current_mrr_minor: int, new_mrr_minor: int) -> ChangeTiming:
    """A downgrade (a lower monthly amount) waits for the end of the cycle; anything else applies at once."""
    return "period_end" if new_mrr_minor < current_mrr_minor else "now"


@dataclass(frozen=True)
class Proration:
    remaining_seconds: int
    cycle_seconds: int
    credit_minor: int  # the unused part of the old plan, given back
    charge_minor: int  # the remaining part of the new plan, charged

    @property
    def rule(self) -> str:
        return (
            f"{self.remaining_seconds} of {self.cycle_seconds} seconds of the cycle remained; "
            "each price x remaining / cycle, rounded half to even"
        )


def prorate(old_price_minor: int, new_price_minor: int, at: datetime, starts_at: datetime,
            ends_at: datetime) -> Proration:  # fmt: skip
    """The credit for the old plan and the charge for the new one, for a change at `at` in [starts_at, ends_at)."""
    if not starts_at <= at < ends_at:
        raise ValueError("the change must fall inside the cycle")
    cycle = int((ends_at - starts_at).total_seconds())
    remaining = int((ends_at - at).total_seconds())
    if remaining == cycle:
        return Proration(remaining, cycle, 0, 0)
    fraction = Fraction(remaining, cycle)
    return Proration(
        remaining, cycle, round_half_even(old_price_minor * fraction), round_half_even(new_price_minor * fraction)
    )
