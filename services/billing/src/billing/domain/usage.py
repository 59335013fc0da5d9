"""Data usage and its overage charge.

Units: 1 GB = 10^9 bytes (decimal, as ISPs sell data). Overage is rounded UP to the plan's increment (1 GB by
default: 3.2 GB over -> 4 GB billed), then priced per GB and rounded half away from zero to a minor unit.
Session counters are cumulative per session, so a session's usage within a period is its latest counters
before the period's end minus its latest counters before the period's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

from billing.domain.amounts import round_half_away

GB = 10**9
SAMPLE_BUCKET = timedelta(minutes=15)  # every real time-zone offset is a multiple: local midnights are bucket edges


def bucket_of(instant: datetime) -> datetime:
    """The start of the 15-minute UTC bucket holding `instant` (counters are kept per session and bucket)."""
    utc = instant.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True)
class OverageCharge:
    overage_octets: int
    billed_octets: int  # overage rounded up to the increment
    amount_minor: int

    @property
    def billed_gb(self) -> Decimal:
        return Decimal(self.billed_octets) / GB


def overage_charge(
    total_octets: int, included_octets: int | None, price_per_gb_minor: int, increment_octets: int = GB
) -> OverageCharge:
    """What usage beyond the allowance costs; `included_octets=None` means unlimited (never any overage)."""
    if total_octets < 0 or increment_octets <= 0:
        raise ValueError("usage must be >= 0 and the increment > 0")
    over = 0 if included_octets is None else max(0, total_octets - included_octets)
    billed = -(-over // increment_octets) * increment_octets
    return OverageCharge(over, billed, round_half_away(Fraction(billed * price_per_gb_minor, GB)))
