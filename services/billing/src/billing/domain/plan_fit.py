"""Is each subscriber on the right plan? What its usage of one billing cycle cost on its plan, and what it would
have cost on each plan of the catalogue: the plan's fee plus its overage for that usage, by the same rule that
bills it (`usage.overage_charge`). Plans of another currency are never compared (no conversion)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from billing.domain.amounts import round_half_away
from billing.domain.usage import GB, overage_charge

Advice = Literal["keep", "upgrade", "downgrade"]


@dataclass(frozen=True)
class PlanTerms:
    plan_id: str
    code: str
    name: str
    currency: str
    price_minor: int
    included_octets: int | None
    overage_price_per_gb_minor: int
    overage_increment_octets: int


def cycle_cost(plan: PlanTerms, used_octets: int) -> int:
    """The fee and the overage of one cycle with `used_octets` on `plan` (tax excluded), in minor units."""
    overage = overage_charge(used_octets, plan.included_octets, plan.overage_price_per_gb_minor,
                             plan.overage_increment_octets)  # fmt: skip
    return plan.price_minor + overage.amount_minor


def price_per_gb(paid_minor: int, used_octets: int) -> int | None:
    """What a GB (10^9 bytes) cost, rounded half away from zero; None without usage."""
    return None if used_octets <= 0 else round_half_away(Fraction(paid_minor * GB, used_octets))


@dataclass(frozen=True)
class Fit:
    plan: PlanTerms  # the cheapest for this usage (the current plan when it is among the cheapest)
    cost_minor: int
    saving_minor: int  # what the cycle cost minus what it would have cost on `plan`
    advice: Advice


def best_plan(current: PlanTerms, paid_minor: int, used_octets: int, catalogue: Iterable[PlanTerms]) -> Fit:
    """The cheapest plan of the catalogue (same currency) for this usage; of equal costs the current plan, then the
    lower fee, then the code. `advice`: upgrade to a plan with a higher fee, downgrade to a lower one."""
    candidates = [p for p in catalogue if p.currency == current.currency and p.plan_id != current.plan_id]
    best, best_cost = current, cycle_cost(current, used_octets)
    for plan in sorted(candidates, key=lambda p: (p.price_minor, p.code)):
        cost = cycle_cost(plan, used_octets)
        if cost < best_cost:
            best, best_cost = plan, cost
    if best is current:
        return Fit(current, best_cost, 0, "keep")
    advice: Advice = "upgrade" if best.price_minor > current.price_minor else "downgrade"
    return Fit(best, best_cost, paid_minor - best_cost, advice)
