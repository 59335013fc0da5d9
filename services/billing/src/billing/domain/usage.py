"""Data usage and its overage charge.

Units: 1 GB = 10^9 bytes (decimal, as ISPs sell data). Overage is rounded UP to the plan's increment (1 GB by
default: 3.2 GB over -> 4 GB billed), then priced per GB and rounded half away from zero to a minor unit.
Session counters are cumulative per session, so a session's usage within a period is its latest counters
before the period's end minus its latest counters before the period's start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Protocol

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


class SessionCounters(Protocol):
    @property
    def session_key(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def event_time(self) -> datetime: ...
    @property
    def input_octets(self) -> int: ...
    @property
    def output_octets(self) -> int: ...


@dataclass
class Sample:
    """The highest cumulative counters of one session seen in one bucket."""

    username: str
    input_octets: int
    output_octets: int


def collapse_samples(events: Iterable[tuple[str, SessionCounters]]) -> dict[tuple[str, str, datetime], Sample]:
    """(tenant, session event) pairs -> one sample per (tenant, session, bucket): the highest counters of each
    (a maximum does not depend on the order, so many events make the same samples as one at a time)."""
    out: dict[tuple[str, str, datetime], Sample] = {}
    for tenant, e in events:
        key = (tenant, e.session_key, bucket_of(e.event_time))
        found = out.get(key)
        if found is None:
            out[key] = Sample(e.username, e.input_octets, e.output_octets)
        else:
            found.input_octets = max(found.input_octets, e.input_octets)
            found.output_octets = max(found.output_octets, e.output_octets)
    return out
